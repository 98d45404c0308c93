"""``ScoreOptions``: how a scoring job runs, as one object that every door passes on unchanged.

``Predictor.score``, :func:`~cxr_miliary.scoring.archive.score_table`,
:func:`~cxr_miliary.scoring.archive.score_to_file`, :func:`~cxr_miliary.scoring.stream.score_stream`,
the ``score`` command and the DICOM node all take it, so an option added here reaches
every one of them (``file_timeout`` once reached some layers and not others).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..io.limits import FILE_TIMEOUT_S
from ..outputs.files import Outputs

#: The first API's keywords for what is now :class:`~cxr_miliary.outputs.files.Outputs`.
_OUTPUT_KEYS = {f.name for f in dataclasses.fields(Outputs)} | {"cam"}


@dataclass
class ScoreOptions:
    """How a scoring job runs.

    Attributes:
        batch_size: Images per forward.
        num_workers: Decode processes (0 decodes in the scoring process, without a time budget per file).
        outputs: Maps and the files written per input (:class:`~cxr_miliary.outputs.files.Outputs`).
        cam_method: CAM method.
        force: Score inputs the checks refuse (marked in the rows).
        file_timeout: Seconds a worker may spend decoding one file.
        resume: With an output file, skip inputs already in it (or its journal).
        progress: A progress bar on stderr.
        max_gather_s: How long a part-filled batch waits for more items while the source says WAIT (a node).
    """

    batch_size: int = 16
    num_workers: int = 2
    outputs: Outputs = field(default_factory=Outputs)
    cam_method: str = "gradcam"
    force: bool = False
    file_timeout: float | None = FILE_TIMEOUT_S
    resume: bool = False
    progress: bool = False
    max_gather_s: float | None = None

    def __post_init__(self) -> None:
        if int(self.batch_size) < 1 or int(self.num_workers) < 0:
            raise ValueError("batch_size is at least 1 and num_workers 0 or more")

    @classmethod
    def of(cls, options: ScoreOptions | None = None, **keywords: Any) -> ScoreOptions:
        """``options`` with ``keywords`` applied: the fields above, or the first API's output keywords.

        ``cam``, ``cam_dir``, ``map_format``, ``overlay_format``, ``overlay_side``,
        ``dicom_out``, ``sr`` (what ``Predictor.score(..., cam_dir=...)`` always took) go
        into :attr:`outputs`.

        Raises:
            TypeError: A keyword that is neither (named).
        """
        base = options or cls()
        own = {k: v for k, v in keywords.items() if k in {f.name for f in dataclasses.fields(cls)}}
        out = {k: v for k, v in keywords.items() if k in _OUTPUT_KEYS and k not in own}
        unknown = sorted(set(keywords) - set(own) - set(out))
        if unknown:
            raise TypeError(f"unknown scoring option(s): {', '.join(unknown)}")
        if out:
            if "cam" in out:
                out["maps"] = out.pop("cam")
            fields = {f.name: getattr(base.outputs, f.name) for f in dataclasses.fields(Outputs)}
            fields.update(out)
            own["outputs"] = Outputs(**fields)
        return dataclasses.replace(base, **own)
