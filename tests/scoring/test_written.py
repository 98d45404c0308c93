"""One result's files that cannot be written cost that row, never the job; a full disk waits (node) or stops the job (score)."""

from __future__ import annotations

import errno

import pytest

from cxr_miliary import Predictor
from cxr_miliary.atomic import WriteError
from cxr_miliary.inference.result import Result
from cxr_miliary.outputs.files import Outputs
from cxr_miliary.scoring.stream import Signal, score_stream, written


@pytest.fixture
def scorer(tiny_bundle):
    return Predictor.load(tiny_bundle, precision="fp32").scorer


def _result(scorer, path="a.dcm"):
    return Result(0, path, dict(scorer.model), scorer.threshold, probability=0.7, positive=True)


class _Flaky(Outputs):
    """Outputs whose write fails with ``errors`` in turn, then works."""

    def __init__(self, errors, **kw):
        super().__init__(**kw)
        self.errors = list(errors)
        self.calls = 0

    def write(self, result):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)


def test_a_full_disk_makes_the_node_wait_and_write_again(scorer):
    full = WriteError(errno.ENOSPC, "x: no space left")
    out = _Flaky([full, full], space_wait_s=0.01)
    r = written(scorer, out, _result(scorer))
    assert not r.error and out.calls == 3


def test_a_full_disk_stops_a_score_job_with_its_error(scorer):
    with pytest.raises(WriteError):
        written(scorer, _Flaky([WriteError(errno.ENOSPC, "x: no space left")]), _result(scorer))


@pytest.mark.parametrize("exc", [KeyError("hello"), AttributeError("SeriesInstanceUID"), TypeError("unhashable type: 'MultiValue'")])
def test_files_that_cannot_be_built_cost_only_their_row(scorer, exc):
    """Hostile class 1: highdicom's KeyError on SOP class 'hello' ended the node's scorer."""
    r = written(scorer, _Flaky([exc]), _result(scorer))
    assert r.error.startswith("output-failed") and r.probability is None and type(exc).__name__ in r.error
    assert "hello" not in r.error  # the value is never quoted


def test_the_stream_goes_on_after_a_film_whose_files_fail(scorer, phantom_dir, tmp_path, monkeypatch):
    from cxr_miliary.outputs import files

    real = files.write_result_files
    calls = []

    def fail_first(result, **kw):
        calls.append(result.path)
        if len(calls) == 1:
            raise KeyError("hello")
        return real(result, **kw)

    monkeypatch.setattr("cxr_miliary.outputs.files.write_result_files", fail_first)
    paths = sorted(str(p) for p in (phantom_dir / "images").glob("*.dcm"))[:3]
    rows = [
        r for batch in score_stream(scorer, enumerate(paths), num_workers=0, outputs=Outputs(maps=True, cam_dir=tmp_path / "cams")) for r in batch
    ]
    assert [bool(r["error"]) for r in rows] == [True, False, False] and rows[0]["error"].startswith("output-failed")


def test_signals_are_an_enum_that_still_compares_as_its_old_strings():
    assert Signal.WAIT == "wait" and Signal.FLUSH == "flush" and isinstance(Signal.FLUSH, str)
