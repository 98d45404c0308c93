"""Scoring many images: the stream, archives into tables, journals, inputs, and the one options object.

Above the per-image core (:mod:`cxr_miliary.inference`) and the one writer of a result's
files (:mod:`cxr_miliary.outputs`); :class:`cxr_miliary.Predictor`, the ``score`` command
and the DICOM node are its doors.
"""

from .archive import ScoreError, score_table, score_to_file
from .inputs import InputListError, expand_inputs
from .options import ScoreOptions
from .stream import FLUSH, WAIT, Signal, score_rows, score_stream

__all__ = [
    "FLUSH",
    "WAIT",
    "InputListError",
    "ScoreError",
    "ScoreOptions",
    "Signal",
    "expand_inputs",
    "score_rows",
    "score_stream",
    "score_table",
    "score_to_file",
]
