"""No patient identifier reaches meta, logs, warnings or the terminal."""

from __future__ import annotations

import logging
import warnings

import pytest
from dicom_factory import CANARY, make_dicom, ramp

from cxr_miliary import load_image
from cxr_miliary.io import ImageError
from cxr_miliary.io.phi import redact


def test_pydicom_warnings_quoting_values_are_redacted(tmp_path, caplog, capsys):
    path = make_dicom(tmp_path / "a.dcm", ramp(), invalid_phi=True)
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        rad = load_image(path)
    out, err = capsys.readouterr()
    everything = caplog.text + out + err + " ".join(str(w.message) for w in escaped) + repr(rad.meta.to_dict())
    assert CANARY not in everything


def test_quarantine_redacts_warnings_and_pydicom_logs(caplog, capsys):
    from cxr_miliary.io.phi import quarantined_warnings

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="pydicom")
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        with quarantined_warnings([f"{CANARY}^NAME"]) as notes:
            warnings.warn(f"Invalid value for VR PN: {CANARY}^NAME found", UserWarning, stacklevel=2)
            logging.getLogger("pydicom").warning("Invalid value for VR DA: '%s'", f"{CANARY}BD")
    out, err = capsys.readouterr()
    assert not escaped
    assert notes == ["Invalid value for VR PN: [redacted] found"]
    assert "decoder warning" in caplog.text and "Invalid value for VR DA" in caplog.text
    assert CANARY not in caplog.text + out + err


def test_unparseable_window_value_error_is_redacted(tmp_path):
    path = make_dicom(tmp_path / "a.dcm", ramp(), windows=[(1234567890, 200)])
    data = path.read_bytes()
    assert data.count(b"1234567890") == 1
    path.write_bytes(data.replace(b"1234567890", f"{CANARY}W".encode()))  # pydicom refuses to write it
    with pytest.raises(ImageError) as err:
        load_image(path)
    assert CANARY not in str(err.value)


def test_rejection_message_free_of_phi(tmp_path):
    path = make_dicom(tmp_path / "a.dcm", ramp(), body_part=f"{CANARY}ABDOMEN", invalid_phi=True)
    # body part that happens to contain an identifier is scrubbed from the reason
    with pytest.raises(ImageError) as err:
        load_image(path)
    assert err.value.code == "body-part"
    assert f"{CANARY}ID" not in str(err.value)


def test_redact_removes_quoted_and_known_values():
    assert redact("Invalid value for VR DA: 'JOHN' in DOE", ["DOE"]) == "Invalid value for VR DA: '[redacted]' in [redacted]"


def test_redaction_is_linear_in_the_number_of_identifiers(tmp_path):
    """A crafted file with 20,000 OtherPatientIDs (each also quoted in an invalid-value warning) reads fast."""
    import time

    import pydicom

    path = make_dicom(tmp_path / "many.dcm", ramp())
    ds = pydicom.dcmread(path)
    ds.add_new(0x00101000, "LO", [f"{CANARY}{i:06d}" for i in range(20_000)])  # OtherPatientIDs (retired, still identifying)
    ds.add_new(0x00080020, "DA", [f"{CANARY}D{i}" for i in range(2_000)])  # invalid dates: pydicom warns, quoting each
    ds.save_as(path, enforce_file_format=True)
    assert path.stat().st_size > 300_000
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        rad = load_image(path)
    elapsed = time.perf_counter() - t
    assert elapsed < 3.0, f"{elapsed:.1f} s"
    assert CANARY not in repr(rad.meta.to_dict()) + " ".join(str(w.message) for w in escaped)


def test_scrub_with_many_values_is_fast_and_complete():
    import time

    from cxr_miliary.io.phi import scrub

    values = sorted({f"ID{i:05d}X" for i in range(5_000)} | {"JOHN^DOE", "JOHN"}, key=len, reverse=True)
    msg = "Invalid value 'ID04242X' for JOHN^DOE and JOHNNY; ID00001X. " * 50
    t = time.perf_counter()
    for _ in range(200):
        out = scrub(msg, values)
    assert time.perf_counter() - t < 2.0
    assert "ID04242X" not in out and "JOHN^DOE" not in out and "JOHNNY" in out  # whole words only: a longer word is not the identifier


def _swallowed_patient_module(path):
    """A damaged file: the Manufacturer's value runs on over the raw PatientName (O'LEARY) and PatientID elements."""
    import struct

    make_dicom(path, ramp())
    data = bytearray(path.read_bytes())
    i = data.find(struct.pack("<HH", 0x0008, 0x0070))
    (n,) = struct.unpack("<H", data[i + 6 : i + 8])
    name, pid = b"O'LEARY^SEAMUS ", b"ID-77'31 "
    payload = b"ACME " + struct.pack("<HH", 0x0010, 0x0010) + b"PN" + struct.pack("<H", len(name)) + name
    payload += struct.pack("<HH", 0x0010, 0x0020) + b"LO" + struct.pack("<H", len(pid)) + pid + b"x" * 1200
    payload += b" " * (len(payload) % 2)
    data[i + 6 : i + 8 + n] = struct.pack("<H", len(payload)) + payload
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("quote", ["'", '"'])
def test_debug_output_never_shows_an_identifier_with_apostrophes_or_overlong_values(tmp_path, capsys, caplog, quote):
    from cxr_miliary.cli.main import main

    caplog.set_level(logging.DEBUG)
    path = _swallowed_patient_module(tmp_path / "d.dcm")
    main(["--debug", "info", str(path)])
    out, err = capsys.readouterr()
    everything = out + err + caplog.text
    assert "LEARY" not in everything and "SEAMUS" not in everything and "77'31" not in everything
    assert "Manufacturer" in everything or "decoder warning" in everything or "manufacturer" in everything  # the words stay
    assert redact(f"Invalid value: {quote}x O{quote}LEARY {'y' * 3000}").count("LEARY") == 0  # unterminated after a cut
    logging.getLogger().handlers.clear()


def test_the_raw_scan_takes_a_head_cut_anywhere():
    from cxr_miliary.io.phi import raw_phi_values

    element = b"\x10\x00\x10\x00PN\x0c\x00Doe^Jonathan"  # (0010,0010) PatientName, explicit VR
    assert "Doe^Jonathan" in raw_phi_values(b"\0" * 8 + element)
    for k in range(len(element)):  # a file cut inside the tag, its VR or its length
        raw_phi_values(b"\0" * 8 + element[:k])
