"""Memory bombs are refused before anything large is allocated: codestream sizes, bounded inflate."""

from __future__ import annotations

import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest
from dicom_factory import make_dicom, ramp
from pydicom.uid import JPEG2000Lossless

from cxr_miliary.io import RejectedImageError, UnreadableImageError, load_image
from cxr_miliary.io.codestream import codestream_size, inflated_size


def _j2k_bomb(path: Path, side: int) -> Path:
    """A 64 x 64 JPEG 2000 DICOM whose codestream's SIZ marker claims side x side."""
    make_dicom(path, ramp(64, 64), transfer_syntax=JPEG2000Lossless)
    data = bytearray(path.read_bytes())
    soc = data.find(b"\xff\x4f\xff\x51")
    struct.pack_into(">II", data, soc + 8, side, side)
    path.write_bytes(bytes(data))
    return path


def test_codestream_size_of_each_family():
    assert codestream_size(b"\xff\x4f\xff\x51\x00\x29\x00\x00" + struct.pack(">IIII", 300, 200, 10, 0)) == (200, 290)
    sof0 = b"\xff\xd8\xff\xe0\x00\x04\x00\x00\xff\xc0\x00\x0b\x08" + struct.pack(">HH", 480, 640) + b"\x01"
    assert codestream_size(sof0) == (480, 640)
    sof55 = b"\xff\xd8\xff\xf7\x00\x0b\x10" + struct.pack(">HH", 1024, 768) + b"\x01"
    assert codestream_size(sof55) == (1024, 768)
    assert codestream_size(b"\x00" * 64) is None and codestream_size(b"\xff\xd8\xff\xda\x00\x02") is None


def test_j2k_bomb_refused_fast(tmp_path):
    bomb = _j2k_bomb(tmp_path / "bomb.dcm", 30000)
    t = time.perf_counter()
    with pytest.raises(RejectedImageError) as exc:
        load_image(bomb)
    assert exc.value.code == "too-large" and "30000x30000" in exc.value.reason
    assert time.perf_counter() - t < 2.0
    liar = _j2k_bomb(tmp_path / "liar.dcm", 128)  # within the limit but not what the header says
    with pytest.raises(UnreadableImageError) as exc:
        load_image(liar)
    assert exc.value.code == "corrupt-pixels" and "the header says 64x64" in exc.value.reason


def _deflate_bomb(path: Path, inflated_mb: int) -> Path:
    """A Deflated Explicit VR file whose data set inflates to ``inflated_mb`` MB of zeros (in the pixel data)."""
    make_dicom(path, ramp(16, 16), transfer_syntax="1.2.840.10008.1.2.1.99")
    raw = path.read_bytes()
    (group_length,) = struct.unpack_from("<I", raw, 132 + 8)
    head = raw[: 132 + 12 + group_length]
    body = zlib.decompress(raw[len(head) :], -zlib.MAX_WBITS)
    comp = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    out = [head, comp.compress(body[: body.rfind(b"\xe0\x7f\x10\x00")])]
    n = inflated_mb << 20
    out.append(comp.compress(b"\xe0\x7f\x10\x00OW\x00\x00" + struct.pack("<I", n)))
    block = bytes(1 << 20)
    for _ in range(inflated_mb):
        out.append(comp.compress(block))
    out.append(comp.flush())
    path.write_bytes(b"".join(out))
    return path


def test_deflate_bomb_refused_before_inflating(tmp_path, monkeypatch):
    import cxr_miliary.io.dicom as dicom

    bomb = _deflate_bomb(tmp_path / "bomb.dcm", 300)
    assert bomb.stat().st_size < 2_000_000
    monkeypatch.setattr(dicom, "MAX_INFLATED_BYTES", 64 << 20)
    t = time.perf_counter()
    with pytest.raises(RejectedImageError) as exc:
        load_image(bomb)
    assert exc.value.code == "too-large" and "inflates to more than" in exc.value.reason
    assert time.perf_counter() - t < 2.0
    group_length = struct.unpack_from("<I", bomb.read_bytes()[:200], 132 + 8)[0]
    assert inflated_size(bomb, 132 + 12 + group_length, 10 << 20) > 10 << 20  # counting stops just past the limit


def test_deflate_bomb_memory_stays_small(tmp_path):
    """In a fresh process: the peak memory of refusing a 1.2 GB bomb (counting only, never holding it)."""
    bomb = _deflate_bomb(tmp_path / "bomb.dcm", 1200)
    code = (
        "from cxr_miliary.io import load_image, ImageError\n"
        f"try:\n    load_image({str(bomb)!r})\nexcept ImageError as e:\n    print(e.code)\n"
        # VmHWM belongs to this process image (ru_maxrss would include the forking parent's)
        "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) // 1024)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={"CXR_MILIARY_MAX_INFLATED_BYTES": str(300 << 20), **__import__("os").environ},
    )
    code_line, peak_mb = out.stdout.split()
    assert code_line == "too-large" and int(peak_mb) < 400, out.stdout + out.stderr
