"""Output paths are checked before any work starts, so a job never fails at its end on a name.

A file target must not be a folder and its folder must exist (or be creatable) and be
writable; a folder target must not be a file. The error names the path and the option.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutputPathError(ValueError):
    """An output path that cannot be written."""


def _writable_dir(folder: Path, what: str, path: Path) -> None:
    probe = folder
    while not probe.exists():  # the nearest existing ancestor decides whether we may create it
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise OutputPathError(f"{path}: cannot write {what} here ({probe} is a file, not a folder)")
    if probe.exists() and not os.access(probe, os.W_OK | os.X_OK):
        raise OutputPathError(f"{path}: cannot write {what} here ({probe} is not writable)")


def check_file_target(path: str | os.PathLike[str], what: str = "the output") -> Path:
    """``path`` can be written as a file (it may not exist yet)."""
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(f"{p}: is a folder; {what} must be a file name")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(f"{p}: {what} exists and is not writable")
    _writable_dir(p.parent if str(p.parent) else Path("."), what, p)
    return p


def check_dir_target(path: str | os.PathLike[str], what: str = "the output folder") -> Path:
    """``path`` can be used as an output folder (it may not exist yet)."""
    p = Path(path)
    try:
        os.stat(p)
    except FileNotFoundError:
        if p.is_symlink():  # a link to nowhere: mkdir would fail at the end of the job
            raise OutputPathError(f"{p}: {what} is a symbolic link that leads nowhere") from None
    except OSError as exc:  # a loop of links, a file where a folder should be on the way
        raise OutputPathError(f"{p}: {what} cannot be used ({os.strerror(exc.errno or 0).lower()})") from None
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{p}: is a file; {what} must be a folder")
    _writable_dir(p, what, p)
    return p


def _real(path: str | os.PathLike[str]) -> str:
    return os.path.realpath(os.fspath(path))


def check_not_inputs(files: dict[str, object], folders: dict[str, object], given: list[object], inputs: list[str]) -> None:
    """No output may be an input of the same run, and no output folder may lie in a folder being scored.

    Args:
        files: ``{option: path}`` of output files (None skipped).
        folders: ``{option: path}`` of output folders (None skipped).
        given: The inputs as typed (files, folders, list files).
        inputs: The input files they expand to.

    Raises:
        OutputPathError: Naming the output, the option and the input it would destroy
            (an output written over an input, a list file or a manifest destroys it; files
            written inside a scored folder are read as inputs by the next run).
    """
    taken = {_real(p) for p in inputs} | {_real(p) for p in given if not os.path.isdir(os.fspath(p))}  # type: ignore[arg-type]
    scored_dirs = [_real(p) for p in given if os.path.isdir(os.fspath(p))]  # type: ignore[arg-type]
    for option, path in [*files.items(), *folders.items()]:
        if path is None:
            continue
        real = _real(path)  # type: ignore[arg-type]
        if real in taken:
            raise OutputPathError(f"{path}: {option} is an input of this run; writing it would destroy the input (choose another name)")
    for option, path in folders.items():
        if path is None:
            continue
        real = _real(path)  # type: ignore[arg-type]
        for folder in scored_dirs:
            if real == folder or real.startswith(folder.rstrip(os.sep) + os.sep):
                raise OutputPathError(
                    f"{path}: {option} lies inside {folder}, a folder being scored; the files written there would be read as "
                    "inputs by the next run (choose a folder outside it)"
                )
