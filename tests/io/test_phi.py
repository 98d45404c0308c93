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
