"""What compressed pixel data says about itself, read before anything is decoded.

A DICOM header may declare 256 x 256 while its JPEG 2000 codestream says 30000 x 30000:
decoding would allocate what the codestream says. So the image size is read from the
codestream's own header (J2K ``SIZ``, JPEG ``SOFn``, JPEG-LS ``SOF55``) and compared with
Rows/Columns and the pixel limit first. A Deflated Explicit VR data set is inflated
through a bounded stream to learn its size before pydicom inflates it whole.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

#: JPEG start-of-frame markers that carry the frame size (not DHT C4, JPG C8, DAC CC).
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}
DEFLATED_UIDS = ("1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.8.1")


def codestream_size(data: bytes) -> tuple[int, int] | None:
    """(rows, columns) declared by a JPEG / JPEG-LS / JPEG 2000 codestream, or None if unknown."""
    j2k = data.find(b"\xff\x4f\xff\x51")  # SOC then SIZ (also inside a JP2 'jp2c' box)
    if 0 <= j2k < 4096 and len(data) >= j2k + 4 + 2 + 2 + 16:
        xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", data, j2k + 8)
        return max(0, ysiz - yo), max(0, xsiz - xo)
    if data[:2] != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if marker in _SOF and pos + 9 <= len(data):
            rows, cols = struct.unpack_from(">HH", data, pos + 5)
            return rows, cols
        if marker == 0xDA:  # start of scan before any frame header
            return None
        pos += 2 + length
    return None


def inflated_size(path: Path, offset: int, limit: int, chunk: int = 1 << 20) -> int:
    """Bytes the raw-deflate stream starting at ``offset`` inflates to, counting at most ``limit + 1``.

    Memory stays at about ``chunk`` whatever the stream holds.
    """
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    with open(path, "rb") as fh:
        fh.seek(offset)
        while total <= limit:
            block = fh.read(chunk)
            if not block:
                break
            data = inflater.decompress(block, chunk)
            total += len(data)
            while inflater.unconsumed_tail and total <= limit:
                data = inflater.decompress(inflater.unconsumed_tail, chunk)
                total += len(data)
            if inflater.eof:
                break
    return total
