"""One options object for every door: its fields, the first API's keywords, and nothing else."""

from __future__ import annotations

import pytest

from cxr_miliary.outputs.files import Outputs
from cxr_miliary.scoring.options import ScoreOptions


def test_keywords_change_fields_and_the_first_apis_output_keywords_go_into_outputs(tmp_path):
    base = ScoreOptions(batch_size=8, file_timeout=30)
    opts = ScoreOptions.of(base, num_workers=0, cam_dir=tmp_path / "cams", map_format="full", cam=True)
    assert (opts.batch_size, opts.num_workers, opts.file_timeout) == (8, 0, 30)  # kept, changed, kept
    assert opts.outputs.cam_dir == tmp_path / "cams" and opts.outputs.map_format == "full" and opts.outputs.maps
    assert base.outputs.cam_dir is None  # the given options are not changed
    assert ScoreOptions.of(None, outputs=Outputs(dicom_out=tmp_path)).outputs.maps  # DICOM outputs need maps


def test_an_unknown_keyword_or_a_bad_value_is_named():
    with pytest.raises(TypeError, match="batchsize"):
        ScoreOptions.of(None, batchsize=4)
    with pytest.raises(ValueError):
        ScoreOptions(batch_size=0)
