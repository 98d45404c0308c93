"""DICOM decoding checked against hand-computed display values."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_factory import CANARY, make_dicom, ramp
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
)

from cxr_miliary import load_image
from cxr_miliary.io import ImageError, RejectedImageError, UnreadableImageError

N = 5  # columns of distinct values in strip()


def strip(values, dtype):
    """16 rows of ``values`` padded (repeating the last value) to 20 columns."""
    row = list(values) + [values[-1]] * (20 - len(values))
    return np.array([row] * 16, dtype=dtype)


def test_monochrome2_window_linear_matches_hand_computation(tmp_path):
    arr = np.tile(np.array([[0, 1000, 2047], [2048, 3000, 4095]], dtype=np.uint16), (8, 6))
    path = make_dicom(tmp_path / "a.dcm", arr, windows=[(2048, 4096)])
    rad = load_image(path)
    # PS3.3 C.11.2.1.2.1 LINEAR: ((x - (c - 0.5)) / (w - 1) + 0.5), clipped to [0, 1]
    expected = np.clip((arr - 2047.5) / 4095 + 0.5, 0, 1)
    np.testing.assert_allclose(rad.pixels, expected, atol=1e-6)
    assert rad.pixels.dtype == np.float32
    assert rad.meta.voi == "window" and rad.meta.window == (2048.0, 4096.0)
    assert rad.meta.inverted is False


def test_narrow_window_clips(tmp_path):
    arr = strip([100, 1000, 1100, 1200, 4000], np.uint16)
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, windows=[(1100, 200)], voi_function="LINEAR_EXACT"))
    np.testing.assert_allclose(rad.pixels[0, :N], [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-6)


@pytest.mark.parametrize("windows", [None, [(2000, 3000)]])
def test_monochrome1_twin_decodes_to_same_array(tmp_path, windows):
    arr = ramp(bits=12)
    m2 = make_dicom(tmp_path / "m2.dcm", arr, windows=windows, voi_function="LINEAR_EXACT" if windows else None)
    twin_windows = [(4095 - c, w) for c, w in windows] if windows else None
    m1 = make_dicom(
        tmp_path / "m1.dcm",
        (4095 - arr.astype(np.int32)).astype(np.uint16),
        photometric="MONOCHROME1",
        presentation_lut_shape="INVERSE",
        windows=twin_windows,
        voi_function="LINEAR_EXACT" if windows else None,
    )
    a, b = load_image(m2), load_image(m1)
    assert b.meta.inverted and not a.meta.inverted
    np.testing.assert_allclose(a.pixels, b.pixels, atol=1e-6)


def test_presentation_lut_inverse_on_monochrome2_inverts_once(tmp_path):
    arr = ramp()
    plain = load_image(make_dicom(tmp_path / "a.dcm", arr))
    inv = load_image(make_dicom(tmp_path / "b.dcm", arr, presentation_lut_shape="INVERSE"))
    np.testing.assert_allclose(inv.pixels, 1 - plain.pixels, atol=1e-6)


def test_rescale_then_window_in_modality_units(tmp_path):
    arr = strip([0, 500, 1000, 1500, 2000], np.uint16)
    # modality values = 2x - 1000 -> [-1000, 0, 1000, 2000, 3000]; window 1000 +- 1000
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, rescale=(2.0, -1000.0), windows=[(1000, 2000)], voi_function="LINEAR_EXACT"))
    np.testing.assert_allclose(rad.pixels[0, :N], [0.0, 0.0, 0.5, 1.0, 1.0], atol=1e-6)


def test_voi_lut_sequence_preferred_over_window(tmp_path):
    arr = strip([0, 1024, 2048, 4095], np.uint16)
    lut = np.round(4095 * np.sqrt(np.arange(4096) / 4095)).astype(int)
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, voi_lut=(0, 12, lut), windows=[(10, 10)]))
    assert rad.meta.voi == "voi-lut-sequence"
    np.testing.assert_allclose(rad.pixels[0, :4], lut[[0, 1024, 2048, 4095]] / 4095, atol=1e-6)


def test_voi_lut_declared_16_bits_but_12_used_is_not_dark(tmp_path):
    arr = strip([0, 4095], np.uint16)
    lut = np.arange(4096)
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, voi_lut=(0, 16, lut)))
    assert rad.pixels.max() == pytest.approx(1.0)
    assert any("VOI LUT declares 16 bits" in w for w in rad.meta.warnings)


def test_several_windows_uses_first_and_says_so(tmp_path):
    arr = strip([500, 1000, 1500], np.uint16)
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, windows=[(1000, 1000), (3000, 200)], voi_function="LINEAR_EXACT"))
    np.testing.assert_allclose(rad.pixels[0, :3], [0.0, 0.5, 1.0], atol=1e-6)
    assert rad.meta.window == (1000.0, 1000.0)
    assert any("2 windows" in w for w in rad.meta.warnings)


@pytest.mark.parametrize("bits", [10, 12, 15, 16])
def test_bits_stored_window_full_range(tmp_path, bits):
    arr = ramp(bits=bits)
    c, w = 2 ** (bits - 1), 2**bits
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, bits_stored=bits, windows=[(c, w)], voi_function="LINEAR_EXACT"))
    np.testing.assert_allclose(rad.pixels, np.clip((arr.astype(float) - c) / w + 0.5, 0, 1), atol=1e-5)
    assert rad.meta.bits_stored == bits


@pytest.mark.parametrize("bits", [10, 12, 15, 16])
def test_bits_stored_without_window_full_contrast(tmp_path, bits):
    arr = ramp(bits=bits)
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, bits_stored=bits))
    assert rad.meta.voi == "min-max"
    np.testing.assert_allclose(rad.pixels, (arr - arr.min()) / (arr.max() - arr.min()), atol=1e-6)


def test_signed_pixels_with_rescale(tmp_path):
    arr = strip([-2048, -1024, 0, 1024, 2047], np.int16)
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, signed=True, rescale=(1.0, 2048.0), windows=[(2048, 4096)], voi_function="LINEAR_EXACT"))
    np.testing.assert_allclose(rad.pixels[0, :N], (arr[0, :N] + 2048 - 2048) / 4096 + 0.5, atol=1e-6)


def test_pixel_padding_masked_before_minmax_and_shown_black(tmp_path):
    arr = np.full((32, 32), 0, dtype=np.uint16)
    arr[4:-4, 4:-4] = np.linspace(1000, 3000, 24 * 24).reshape(24, 24).round()
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, padding=0))
    inner = arr[4:-4, 4:-4]
    np.testing.assert_allclose(rad.pixels[4:-4, 4:-4], (inner - 1000) / 2000, atol=1e-6)
    assert (rad.pixels[:4] == 0).all()
    assert rad.meta.padding_fraction == pytest.approx(1 - 24 * 24 / 32 / 32)


def test_pixel_padding_monochrome1_range_limit(tmp_path):
    arr = np.full((32, 32), 4095, dtype=np.uint16)
    arr[:, :2] = 4000  # inside the padding range 4000..4095
    arr[4:-4, 4:-4] = np.linspace(0, 2000, 24 * 24).reshape(24, 24).round()
    rad = load_image(make_dicom(tmp_path / "a.dcm", arr, photometric="MONOCHROME1", padding=4095, padding_limit=4000))
    inner = arr[4:-4, 4:-4].astype(float)
    np.testing.assert_allclose(rad.pixels[4:-4, 4:-4], 1 - inner / 2000, atol=1e-6)
    assert (rad.pixels[:, :2] == 0).all() and (rad.pixels[:4] == 0).all()


@pytest.mark.parametrize("syntax", [ExplicitVRBigEndian, ImplicitVRLittleEndian, DeflatedExplicitVRLittleEndian, RLELossless, JPEG2000Lossless])
def test_lossless_encodings_equal_uncompressed_twin(tmp_path, syntax):
    arr = ramp(rows=40, cols=36, bits=12, seed=3)
    ref = load_image(make_dicom(tmp_path / "ref.dcm", arr, windows=[(2048, 4096)]))
    other = load_image(make_dicom(tmp_path / "other.dcm", arr, windows=[(2048, 4096)], transfer_syntax=syntax))
    assert other.meta.transfer_syntax_uid == str(syntax)
    np.testing.assert_array_equal(ref.pixels, other.pixels)


@pytest.mark.parametrize(
    "name", ["MR_small_RLE.dcm", "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_bigendian.dcm", "MR_small_implicit.dcm"]
)
def test_real_scanner_files_lossless_twins(pydicom_file, name):
    """Real vendor-encoded files shipped with pydicom: every lossless encoding decodes identically."""
    ref = load_image(pydicom_file("MR_small.dcm"), force=True)
    other = load_image(pydicom_file(name), force=True)
    np.testing.assert_array_equal(ref.pixels, other.pixels)


def test_real_jpeg_baseline_and_extended_decode(pydicom_file):
    rad = load_image(pydicom_file("JPGExtended.dcm"), force=True)
    assert rad.meta.transfer_syntax.startswith("JPEG Extended")
    assert 0 <= rad.pixels.min() < rad.pixels.max() <= 1


def test_real_ct_rejected_by_modality(pydicom_file):
    with pytest.raises(RejectedImageError) as err:
        load_image(pydicom_file("CT_small.dcm"))
    assert err.value.code == "modality" and "CT" in str(err.value) and "CT_small.dcm" in str(err.value)


def test_real_truncated_file(pydicom_file):
    with pytest.raises(UnreadableImageError) as err:
        load_image(pydicom_file("MR_truncated.dcm"), force=True)
    assert err.value.code == "truncated"  # the file ends inside its pixel data


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"modality": "CT"}, "modality"),
        ({"modality": "MR"}, "modality"),
        ({"modality": "OT"}, "modality"),
        ({"view": "LL"}, "lateral-view"),
        ({"view": "LATERAL"}, "lateral-view"),
        ({"body_part": "ABDOMEN"}, "body-part"),
        ({"intent": "FOR PROCESSING"}, "for-processing"),
        ({"sop_class": "1.2.840.10008.5.1.4.1.1.1.1.1"}, "for-processing"),
    ],
)
def test_rejections_and_force(tmp_path, kwargs, code):
    path = make_dicom(tmp_path / "a.dcm", ramp(), **kwargs)
    with pytest.raises(RejectedImageError) as err:
        load_image(path)
    assert err.value.code == code and str(path) in str(err.value)
    rad = load_image(path, force=True)
    assert any("accepted with --force" in w for w in rad.meta.warnings)


def test_multi_frame_rejected_force_takes_first(tmp_path):
    frames = np.stack([ramp(seed=1), ramp(seed=2)])
    path = make_dicom(tmp_path / "a.dcm", frames)
    with pytest.raises(RejectedImageError, match="2 frames"):
        load_image(path)
    rad = load_image(path, force=True)
    single = load_image(make_dicom(tmp_path / "b.dcm", frames[0]))
    np.testing.assert_allclose(rad.pixels, single.pixels, atol=1e-6)
    assert rad.meta.frames == 2


def test_rgb_dicom_rejected(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    with pytest.raises(RejectedImageError) as err:
        load_image(make_dicom(tmp_path / "a.dcm", rgb, bits_stored=8))
    assert err.value.code == "multi-sample"


def test_missing_tags_are_unverified_warnings_not_rejections(tmp_path):
    rad = load_image(make_dicom(tmp_path / "a.dcm", ramp(), modality=None, view=None, body_part=None, spacing=None))
    text = " ".join(rad.meta.warnings)
    assert "modality unverified" in text and "body part unverified" in text and "view unverified" in text
    assert rad.meta.pixel_spacing_mm is None


def test_spacing_falls_back_to_imager_pixel_spacing(tmp_path):
    rad = load_image(make_dicom(tmp_path / "a.dcm", ramp(), spacing=None, imager_spacing=(0.2, 0.25)))
    assert rad.meta.pixel_spacing_mm == (0.2, 0.25) and rad.meta.spacing_source == "ImagerPixelSpacing"


def test_truncated_written_file(tmp_path):
    path = make_dicom(tmp_path / "a.dcm", ramp(rows=64, cols=64))
    data = path.read_bytes()
    cut = tmp_path / "cut.dcm"
    cut.write_bytes(data[: len(data) - 2000])
    with pytest.raises(UnreadableImageError) as err:
        load_image(cut)
    assert "cut.dcm" in str(err.value)
    head = tmp_path / "head.dcm"
    head.write_bytes(data[:200])
    with pytest.raises(UnreadableImageError):
        load_image(head)


def test_header_size_checked_before_decoding(tmp_path, monkeypatch):
    path = make_dicom(tmp_path / "a.dcm", ramp())
    import cxr_miliary.io.dicom as dicom_mod

    def boom(*a, **k):
        raise AssertionError("pixel data must not be decoded")

    monkeypatch.setattr(dicom_mod, "pixel_array", boom)
    with pytest.raises(RejectedImageError) as err:
        load_image(path, max_pixels=100)
    assert err.value.code == "too-large"


def test_missing_decoder_names_transfer_syntax(tmp_path, monkeypatch):
    path = make_dicom(tmp_path / "a.dcm", ramp(), transfer_syntax=JPEG2000Lossless)
    import cxr_miliary.io.dicom as dicom_mod

    class NoPlugin:
        is_available = False

    monkeypatch.setattr(dicom_mod, "get_decoder", lambda uid: NoPlugin())
    with pytest.raises(UnreadableImageError) as err:
        load_image(path)
    assert err.value.code == "decoder-missing"
    assert "JPEG 2000" in str(err.value) and "1.2.840.10008.1.2.4.90" in str(err.value)


def test_phi_never_in_meta(tmp_path):
    rad = load_image(make_dicom(tmp_path / "a.dcm", ramp(), invalid_phi=True))
    assert CANARY not in repr(rad.meta.to_dict())
    assert "19010101" not in repr(rad.meta.to_dict())


@pytest.mark.parametrize(
    "uid",
    [
        "1.2.840.10008.1.2.4.50",  # JPEG baseline
        "1.2.840.10008.1.2.4.51",  # JPEG extended
        "1.2.840.10008.1.2.4.57",  # JPEG lossless
        "1.2.840.10008.1.2.4.70",  # JPEG lossless SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS lossless
        "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 lossless
        "1.2.840.10008.1.2.4.91",  # JPEG 2000
        "1.2.840.10008.1.2.5",  # RLE
    ],
)
def test_installed_codecs_cover_the_transfer_syntaxes(uid):
    """The package's own dependencies must bring a decoder for every promised syntax."""
    from pydicom.pixels import get_decoder

    assert get_decoder(uid).is_available


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.90"])
def test_every_cut_of_an_image_file_reports_truncated(tmp_path, syntax):
    src = make_dicom(tmp_path / "a.dcm", ramp(48, 48), transfer_syntax=syntax)
    raw = src.read_bytes()
    codes = set()
    for k in range(1, 120):
        cut = tmp_path / "cut.dcm"
        cut.write_bytes(raw[: len(raw) * k // 120])
        with pytest.raises(ImageError) as exc:
            load_image(cut)
        codes.add(exc.value.code)
    assert codes == {"truncated"}
