"""What the node takes at C-STORE: broken, mismatched and unsupported data sets are refused with a status and a reason."""

from __future__ import annotations

import pytest
from hostile_films import CR, DX, POISON, copy, header, variant

from cxr_miliary.pacs.accept import (
    CANNOT_UNDERSTAND,
    DATA_SET_MISMATCH,
    DX_FOR_PROCESSING,
    SECONDARY_CAPTURE,
    SOP_CLASS_NOT_SUPPORTED,
    SUCCESS,
    check_received,
    decodable_syntaxes,
)
from cxr_miliary.phantom import generate_phantoms

pytest.importorskip("pynetdicom")


def _check(path, *, sop_class=None, instance=None):
    h = header(path)
    return check_received(path, sop_class or str(h.file_meta.MediaStorageSOPClassUID), instance or str(h.file_meta.MediaStorageSOPInstanceUID))


def test_a_good_film_is_taken(film):
    v = _check(film)
    assert v.status == SUCCESS and v.sop_instance_uid == str(header(film).SOPInstanceUID)


@pytest.mark.parametrize("name", sorted(POISON))
def test_poison_data_sets_are_refused_with_the_attribute_named(film, tmp_path, name):
    """Class 1 and 8: the C-STORE command is valid, the data set's Type 1 UIDs are not."""
    bad = variant(film, tmp_path / f"{name}.dcm", POISON[name])
    v = _check(bad, sop_class=DX, instance=str(header(film).SOPInstanceUID))
    assert v.status in (CANNOT_UNDERSTAND, DATA_SET_MISMATCH), (name, v)
    assert "UID" in v.reason
    assert "../" not in v.reason and "hello" not in v.reason and "free text" not in v.reason  # the reason names the attribute, never its value


def test_a_data_set_that_differs_from_its_command_is_refused(film, tmp_path):
    """Class 6: two data sets under one command UID - the data set's own UID is the key, a mismatch is refused."""
    other = variant(film, tmp_path / "other.dcm", SOPInstanceUID="1.2.826.0.1.3680043.8.498.1234")
    v = _check(other, sop_class=DX, instance=str(header(film).SOPInstanceUID))
    assert v.status == CANNOT_UNDERSTAND and "differs from the C-STORE command" in v.reason
    assert _check(film, sop_class=CR).status == DATA_SET_MISMATCH  # a DX data set sent as CR


def test_for_processing_images_are_refused(film, tmp_path):
    """Class 13: raw detector data is not a film to read."""
    assert _check(film, sop_class=DX_FOR_PROCESSING).status == SOP_CLASS_NOT_SUPPORTED
    raw = variant(film, tmp_path / "raw.dcm", PresentationIntentType="FOR PROCESSING")
    v = _check(raw)
    assert v.status == DATA_SET_MISMATCH and "For Processing" in v.reason


def test_truncated_empty_and_unparseable_data_sets_are_refused(film, tmp_path):
    """Class 13: what could never give a result is refused at C-STORE, not acknowledged."""
    data = film.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 5000])
    no_pixels = variant(film, tmp_path / "nopix.dcm", lambda ds: delattr(ds, "PixelData"))
    junk = tmp_path / "junk.dcm"
    junk.write_bytes(data[:132] + b"\xff" * 300)
    for bad in (cut, no_pixels, junk):
        v = check_received(bad, DX, str(header(film).SOPInstanceUID))
        assert v.status == CANNOT_UNDERSTAND, (bad.name, v)
    assert "truncated" in check_received(cut, DX, str(header(film).SOPInstanceUID)).reason
    assert _check(copy(film, tmp_path / "same.dcm")).status == SUCCESS


def test_only_syntaxes_this_install_decodes_are_negotiated_for_films(tmp_path):
    """Class 13: a sender that prefers JPEG XL or HEVC falls back instead of leaving an undecodable film behind."""
    from cxr_miliary.pacs.node import ModelSpec, Node

    readable = decodable_syntaxes()
    assert "1.2.840.10008.1.2.1" in readable and "1.2.840.10008.1.2.4.90" in readable  # explicit VR, JPEG 2000
    assert "1.2.840.10008.1.2.4.110" not in readable and "1.2.840.10008.1.2.4.107" not in readable  # JPEG XL, HEVC
    ae = Node(ModelSpec(), tmp_path / "n", port=0)._ae()
    for cx in ae.supported_contexts:
        if cx.abstract_syntax in (CR, DX, SECONDARY_CAPTURE):
            assert set(cx.transfer_syntax) == set(readable)
    assert ae.require_called_aet is True  # class 12: the called AE title is checked


def _as_sc(src, dst, **values):
    from hostile_films import variant

    def change(ds):
        ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SECONDARY_CAPTURE
        ds.Modality = "OT"
        for k in ("ImagerPixelSpacing", "PixelSpacing", "ViewPosition"):
            if k in ds:
                delattr(ds, k)

    return variant(src, dst, change, **values)


def test_a_chest_film_stored_as_secondary_capture_is_taken_and_a_screenshot_is_not(tmp_path):
    """#38: SC chest films arrive from digitisers and workstations; Orthanc ended a whole send job at our 0x0122."""
    import numpy as np

    generate_phantoms(1, tmp_path / "big", seed=74, size=384, formats=("dcm",))
    chest = _as_sc(next((tmp_path / "big" / "images").glob("*.dcm")), tmp_path / "sc.dcm")
    assert _check(chest, sop_class=SECONDARY_CAPTURE).status == SUCCESS
    noise = _as_sc(chest, tmp_path / "noise.dcm")
    ds = __import__("pydicom").dcmread(noise)
    ds.PixelData = np.random.default_rng(0).integers(0, 4095, (ds.Rows, ds.Columns), dtype=np.uint16).tobytes()
    ds.save_as(noise)
    v = _check(noise, sop_class=SECONDARY_CAPTURE)
    assert v.status == SOP_CLASS_NOT_SUPPORTED and "not a frontal chest film" in v.reason


def test_the_nodes_own_outputs_are_acknowledged_and_dropped(tiny_bundle, film, tmp_path):
    """#38: the loop guard - a PACS routing everything back must not get results of results."""
    from cxr_miliary.cli.main import main

    assert main(["--quiet", "predict", str(film), "--weights", str(tiny_bundle), "--dicom-out", str(tmp_path / "out"), "--force"]) == 0
    for f in (tmp_path / "out").glob("*.dcm"):
        h = header(f)
        v = check_received(f, str(h.SOPClassUID), str(h.SOPInstanceUID))
        assert v.status == SUCCESS and v.drop and "routing loop" in v.reason
    assert not _check(film).drop  # a phantom film is not one of ours
