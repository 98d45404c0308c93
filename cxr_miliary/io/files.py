"""Which file is this? Checked with ``stat`` before anything is opened, then by its first bytes.

Only regular files are opened: a FIFO, a socket or a device would block or stream
forever. Names the system refuses (too long, a symlink loop, no permission) become
errors that say so. A DICOM file is recognised by its Part 10 prefix (``DICM`` after a
128-byte preamble) or, for the legacy files that archives are full of, by first bytes
that parse as a data set (a group 0x0008 element in implicit or explicit VR little
endian, followed by another in ascending order), as DCMTK and GDCM do.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import struct
from pathlib import Path

from .errors import UnreadableImageError


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file's bytes, read in chunks (bundles' integrity, result UIDs keyed by content, films keyed by content)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: Bytes read to recognise a format (a legacy DICOM's first elements fit in them).
HEAD_BYTES = 4096
_RASTER_MAGIC = (
    b"\x89PNG\r\n\x1a\n",  # PNG
    b"\xff\xd8\xff",  # JPEG
    b"II*\x00",  # TIFF little endian
    b"MM\x00*",  # TIFF big endian
    b"II+\x00",  # BigTIFF
    b"MM\x00+",
)
#: Value representations of DICOM (PS3.5 6.2); the explicit-VR check needs them.
_VRS = frozenset(b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV".split())
_LONG_VRS = frozenset(b"OB OD OF OL OV OW SQ UC UN UR UT SV UV".split())


def stat_input(path: str | os.PathLike[str]) -> os.stat_result:
    """``os.stat`` of an input, or the error a user can act on.

    Raises:
        UnreadableImageError: ``not-found``, ``symlink-loop``, ``name-too-long``,
            ``permission-denied``, ``io-error`` or ``not-a-file`` (a folder, FIFO, socket
            or device).
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise _stat_error(p, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise UnreadableImageError(p, "not-a-file", "not a regular file (a folder)")
    if not stat.S_ISREG(st.st_mode):
        kind = "FIFO" if stat.S_ISFIFO(st.st_mode) else "socket" if stat.S_ISSOCK(st.st_mode) else "device or special file"
        raise UnreadableImageError(p, "not-a-file", f"not a regular file (a {kind}); it is not opened")
    return st


def _stat_error(p: Path, exc: OSError) -> UnreadableImageError:
    if exc.errno == errno.ELOOP:
        return UnreadableImageError(p, "symlink-loop", "a symbolic link loop (too many levels of links)")
    if exc.errno == errno.ENAMETOOLONG:
        return UnreadableImageError(p, "name-too-long", "the file name is longer than the file system allows")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return UnreadableImageError(p, "permission-denied", "no permission to read this file")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if os.path.islink(p):
            return UnreadableImageError(p, "not-found", "a symbolic link to a file that does not exist")
        return UnreadableImageError(p, "not-found", "no such file")
    return UnreadableImageError(p, "io-error", f"cannot be read ({exc.strerror or exc})")


def read_head(path: str | os.PathLike[str], n: int = HEAD_BYTES) -> bytes:
    """The first ``n`` bytes of a regular file (checked with :func:`stat_input` first)."""
    p = Path(path)
    stat_input(p)
    try:
        with open(p, "rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise _stat_error(p, exc) from None


def is_part10(head: bytes) -> bool:
    """A DICOM Part 10 file: the ``DICM`` prefix after the 128-byte preamble."""
    return len(head) >= 132 and head[128:132] == b"DICM"


def is_raster(head: bytes) -> bool:
    """PNG, JPEG or TIFF by magic number."""
    return any(head.startswith(m) for m in _RASTER_MAGIC)


def legacy_dicom_encoding(head: bytes, size: int) -> str | None:
    """``"implicit"`` or ``"explicit"`` when headerless bytes parse as a little-endian data set.

    The first element must be in group 0x0008 (where every image's identification
    starts) and the next one must follow it in ascending tag order with a length that
    fits the file: random bytes, text and other formats essentially never do.
    """
    for encoding in ("explicit", "implicit"):
        if _parses(head, size, encoding):
            return encoding
    return None


def _parses(head: bytes, size: int, encoding: str) -> bool:
    pos, last, seen = 0, -1, 0
    while pos + 8 <= len(head) and seen < 2:
        group, elem = struct.unpack_from("<HH", head, pos)
        tag = (group << 16) | elem
        if (seen == 0 and group != 0x0008) or tag <= last or group < 0x0008 or group % 2:
            return False
        if encoding == "explicit":
            vr = head[pos + 4 : pos + 6]
            if vr not in _VRS:
                return False
            if vr in _LONG_VRS:
                if pos + 12 > len(head) or head[pos + 6 : pos + 8] != b"\x00\x00":
                    return False
                (length,) = struct.unpack_from("<I", head, pos + 8)
                pos += 12
            else:
                (length,) = struct.unpack_from("<H", head, pos + 6)
                pos += 8
        else:
            (length,) = struct.unpack_from("<I", head, pos + 4)
            pos += 8
        if length == 0xFFFFFFFF:  # undefined length (a sequence) as the first elements: not plausible
            return False
        if pos + length > size:
            return False
        pos += length
        last = tag
        seen += 1
    return seen >= 2
