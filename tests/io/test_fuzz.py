"""Fuzzing ``load_image`` with mutants of real and phantom files: an ImageError or a valid image, never
a crash, a hang, NaN, or a foreign exception.

CI runs a few hundred cases; a release check runs more:
``CXR_MILIARY_FUZZ_EXAMPLES=20000 python -m pytest tests/io/test_fuzz.py``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from dicom_factory import make_dicom, ramp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.uid import JPEG2000Lossless, RLELossless

from cxr_miliary.io import ImageError, load_image
from cxr_miliary.phantom import generate_phantoms

EXAMPLES = int(os.environ.get("CXR_MILIARY_FUZZ_EXAMPLES", "300"))
PYDICOM_FILES = Path(__import__("pydicom").__file__).parent / "data" / "test_files"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    generate_phantoms(2, d, seed=5, size=128, formats=("dcm", "png"))
    files = sorted((d / "images").glob("*"))
    files += [
        make_dicom(d / "j2k.dcm", ramp(48, 48), transfer_syntax=JPEG2000Lossless),
        make_dicom(d / "rle.dcm", ramp(48, 48), transfer_syntax=RLELossless),
    ]
    files += [f for f in (PYDICOM_FILES / "CT_small.dcm", PYDICOM_FILES / "MR_small_jpeg_ls_lossless.dcm") if f.exists()]
    return [f.read_bytes() for f in files]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_mutants_never_crash(seeds, tmp_path, data):
    raw = bytearray(data.draw(st.sampled_from(seeds)))
    kind = data.draw(st.sampled_from(["flip", "truncate", "splice", "zero"]))
    if kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 12))):
            pos = data.draw(st.integers(0, max(len(raw) - 1, 0)))
            if kind == "flip" and raw:
                raw[pos] ^= 1 << data.draw(st.integers(0, 7))
            elif kind == "zero" and raw:
                raw[pos : pos + 8] = bytes(len(raw[pos : pos + 8]))
            else:
                raw[pos:pos] = data.draw(st.binary(max_size=16))
    path = tmp_path / "mutant.bin"
    path.write_bytes(bytes(raw))
    signal.alarm(20)  # a hang is a failure, not a stuck CI job
    try:
        rad = load_image(path, force=True)
    except ImageError as exc:
        assert exc.code and str(path) in str(exc)
        return
    finally:
        signal.alarm(0)
    assert rad.pixels.dtype == np.float32 and np.isfinite(rad.pixels).all()
    assert 0.0 <= rad.pixels.min() <= rad.pixels.max() <= 1.0


@settings(max_examples=max(10, EXAMPLES // 10), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10**6), k=st.integers(1, 3), mirror=st.booleans(), size=st.sampled_from([256, 384, 512]))
def test_turned_phantoms_are_never_accepted_upright(seed, k, mirror, size):
    """A phantom turned any way (a quarter turn, half a turn, upside down by a mirror) is never a frontal chest film."""
    from cxr_miliary.explain import lung_fields
    from cxr_miliary.inference.chest_check import check_frontal_chest
    from cxr_miliary.phantom import render_phantom

    px = render_phantom(seed, 0, size=size).display
    turned = np.ascontiguousarray(px[::-1] if (k == 2 and mirror) else np.rot90(px, k))
    assert not check_frontal_chest(turned, lung_fields).frontal_chest
