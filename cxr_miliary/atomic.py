"""Atomic file writes: the one way cxr-miliary writes a file that must never be seen half-written.

Every writer (tables, maps, overlays, DICOM results, bundles, caches, the fast-path
verdicts) writes under a temporary name beside the target and renames it into place
only when the file is complete; a failure removes the temporary file. A full disk or
quota is a :class:`WriteError` naming the path ("no space left"), which the CLI reports
as a usage-level error (exit 2), never an unexpected failure.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path

_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_counter = itertools.count()


class WriteError(OSError):
    """A file could not be written (no space left, quota, read-only file system); nothing partial is left."""


def temporary_name(target: Path) -> Path:
    """A hidden name beside ``target``, unique per process and call (two writers never share it)."""
    return target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident() % 100000}.{next(_counter)}.tmp")


def root_errno(exc: BaseException) -> int | None:
    """The errno behind an exception, looking through the causes libraries wrap it in.

    pydicom re-raises a failed element write as ``OSError("With tag ... got exception:
    [Errno 28] ...")`` without an errno: the original is its ``__cause__``.
    """
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno:
            return e.errno
        e = e.__cause__ or e.__context__
    return None


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says the disk or the quota is full."""
    return root_errno(exc) in _SPACE


def explain_write_error(target: Path, exc: OSError) -> WriteError:
    """The :class:`WriteError` for an OSError met while writing ``target``: what went wrong, in words."""
    code = root_errno(exc)
    if code in _SPACE:
        return WriteError(code, f"{target}: no space left to write it (nothing partial was left; free space and rerun, --resume keeps finished work)")
    if code == errno.EROFS:
        return WriteError(code, f"{target}: the file system is read-only")
    return WriteError(
        code or errno.EIO, f"{target}: could not be written ({os.strerror(code) if code else (str(exc).splitlines() or [type(exc).__name__])[0]})"
    )


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, mkdir: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; it replaces ``target`` when the block ends without error.

    Args:
        target: The final file.
        mkdir: Create the target's folder first.

    Raises:
        WriteError: The disk is full, the file system read-only, or the write failed.
    """
    target = Path(target)
    tmp = temporary_name(target)
    try:
        if mkdir:
            target.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        if not tmp.stat().st_mode & 0o044:  # a library that writes through its own private temporary file: readable as a plain file would be
            os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except WriteError:
        raise
    except OSError as exc:
        raise explain_write_error(target, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically; returns the target."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``target`` atomically; returns the target."""
    return write_bytes(target, text.encode("utf-8"))
