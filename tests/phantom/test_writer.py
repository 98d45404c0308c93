"""Phantom files: formats, determinism, parallel = serial, the CLI."""

from __future__ import annotations

import csv
import hashlib

import numpy as np
import pytest

from cxr_miliary import load_image
from cxr_miliary.phantom import generate_phantoms
from cxr_miliary.phantom.writer import MANIFEST_COLUMNS


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(manifest):
    with open(manifest) as fh:
        return list(csv.DictReader(fh))


def test_manifest_and_files(tmp_path):
    manifest = generate_phantoms(6, tmp_path, seed=3, size=192, formats=("png", "dcm"))
    rows = _rows(manifest)
    assert len(rows) == 6
    assert list(rows[0])[: len(MANIFEST_COLUMNS)] == list(MANIFEST_COLUMNS)
    for row in rows:
        for key in ("path", "path_dcm", "lung_mask", "lesion_mask"):
            assert (tmp_path / row[key]).exists()
        assert row["label"] in ("0", "1") and float(row["pixel_spacing_mm"]) > 0
        png, dcm = load_image(tmp_path / row["path_png"]), load_image(tmp_path / row["path_dcm"])
        assert dcm.meta.modality == "DX" and dcm.meta.view == "PA" and dcm.meta.body_part == "CHEST"
        assert dcm.meta.photometric_interpretation == row["photometric"]
        # the DICOM window is the identity, so DICOM and PNG agree up to PNG's min-max stretch
        p = png.pixels
        d = dcm.pixels
        stretched = (d - d.min()) / (d.max() - d.min())
        np.testing.assert_allclose(p, stretched, atol=1e-5)


def test_same_seed_same_bytes_and_parallel_equals_serial(tmp_path):
    generate_phantoms(4, tmp_path / "a", seed=11, size=128, formats=("png", "dcm"))
    generate_phantoms(4, tmp_path / "b", seed=11, size=128, formats=("png", "dcm"), workers=2)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    generate_phantoms(4, tmp_path / "c", seed=12, size=128, formats=("png",))
    assert _digest(tmp_path / "a")["images/ph0011_000000.png"] != _digest(tmp_path / "c").get("images/ph0012_000000.png")


def test_positive_fraction_and_patterns(tmp_path):
    rows = _rows(generate_phantoms(12, tmp_path, size=96, positive_fraction=1.0, patterns=("miliary", "normal")))
    assert {r["pattern"] for r in rows} == {"miliary"}
    rows = _rows(generate_phantoms(12, tmp_path / "x", size=96, positive_fraction=0.0, patterns=("miliary", "normal", "masses")))
    assert {r["label"] for r in rows} == {"0"}


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate_phantoms(1, tmp_path, formats=("gif",))
    with pytest.raises(ValueError):
        generate_phantoms(1, tmp_path, patterns=("banana",))


def test_a_field_only_later_films_have_gets_a_column(tmp_path):
    """``opacified`` is on the low-volume films with both lungs white only: seed 1's first film has none, its second has."""
    rows = _rows(generate_phantoms(2, tmp_path, seed=1, size=128, formats=("png",), condition="low-volume"))
    assert [r["opacified"] for r in rows] == ["", "bilateral-opacities"]
