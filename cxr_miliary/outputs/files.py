"""The one writer of a result's files: map file, overlay, DICOM Secondary Capture and SR.

``predict`` names its files (``--cam``, ``--dicom-out``); ``score`` names them by input
(``<index>_<sha1(path)>`` inside ``--cam-dir``, never from the file's tags). Both call
:func:`write_result_files`, so an overlay, a map or an SR is the same whichever command
wrote it. All or nothing per result: a failure removes what was already written for it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..explain.mapfile import MAP_FORMATS, save_map
from ..inference.decoding import PREVIEW_SIDE
from ..inference.result import Result
from .images import overlay_rgb, save_overlay


def maps_needed(cam: bool, cam_dir: Any = None, dicom_out: Any = None) -> bool:
    """Whether a job computes maps: asked for, or needed by the files it writes (the one rule)."""
    return bool(cam) or cam_dir is not None or dicom_out is not None


#: The overlay files ``score --cam-dir`` writes, by format.
OVERLAY_SUFFIXES = {"jpeg": ".jpg", "png": ".png"}


def file_stem(index: int, path: str) -> str:
    """A file name unique per input, free of anything taken from the file or its tags."""
    return f"{index:07d}_{hashlib.sha1(os.fsencode(path)).hexdigest()[:12]}"


def cam_dir_names(
    cam_dir: str | os.PathLike[str], index: int, path: str, map_format: str = "compact", overlay_format: str = "jpeg"
) -> tuple[Path, Path]:
    """``(map file, overlay file)`` of input ``index`` inside ``cam_dir``."""
    stem = Path(cam_dir) / file_stem(index, path)
    return stem.with_suffix(MAP_FORMATS[map_format]), stem.with_suffix(OVERLAY_SUFFIXES[overlay_format])


def overlay_of(result: Result, max_side: int | None = PREVIEW_SIDE) -> Any:
    """The overlay of a result with a map (RGB uint8), at most ``max_side`` pixels a side."""
    exp = result.explanation
    if exp is None or result.preview is None:
        raise ValueError(f"{result.path}: no map to draw (decode with a preview and compute the map)")
    h, w = result.preview.shape
    f = 1.0 if max_side is None else min(1.0, max_side / max(h, w))
    size = (max(1, round(h * f)), max(1, round(w * f)))
    return overlay_rgb(result.preview, exp.cam_at(size), exp.lung_mask_at(size), result.caption(), max_side=max(size))


def write_result_files(
    result: Result,
    *,
    map_file: str | os.PathLike[str] | None = None,
    map_format: str = "compact",
    overlay: str | os.PathLike[str] | None = None,
    overlay_side: int | None = PREVIEW_SIDE,
    dicom_out: str | os.PathLike[str] | None = None,
    sr: bool | str | None = "tid1500",
) -> dict[str, Any]:
    """Write a result's files; returns ``{"cam_path", "overlay_path", "dicom_outputs"}`` for those written (also kept in ``result.files``).

    Args:
        result: A result with a map (and a preview, for an overlay or DICOM output).
        map_file: Where the map goes (format ``map_format``: ``compact`` .npz or ``full`` .npy).
        map_format: See :mod:`cxr_miliary.explain.mapfile`.
        overlay: Where the overlay goes (JPEG or PNG by suffix).
        overlay_side: The overlay's longest side (None: the preview's, full size when decoded so).
        dicom_out: Folder for the DICOM Secondary Capture (and SR) of a DICOM input.
        sr: The SR: ``"tid1500"`` (default), ``"basic"``, or None (the SC only).
    """
    written: list[Path] = []
    files: dict[str, Any] = {}
    try:
        if map_file is not None:
            assert result.explanation is not None
            written.append(save_map(map_file, result.explanation, map_format))
            files["cam_path"] = str(written[-1])
        rgb = overlay_of(result, overlay_side) if overlay is not None or (dicom_out is not None and result.is_dicom) else None
        if overlay is not None:
            written.append(save_overlay(overlay, rgb))
            files["overlay_path"] = str(written[-1])
        if dicom_out is not None and result.is_dicom:
            from .dicom import write_dicom_results

            dicoms = write_dicom_results(result.path, dicom_out, result.to_json(), rgb, sr=sr)
            written += dicoms
            files["dicom_outputs"] = ";".join(str(p) for p in dicoms)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    result.files.update(files)
    return files


@dataclass
class Outputs:
    """What a scoring job writes per input besides its row.

    Attributes:
        maps: Compute maps and the distribution columns (also implied by the others).
        cam_dir: Folder for map files and overlays.
        map_format: ``compact`` (.npz at the map's own resolution) or ``full`` (.npy).
        overlay_format: ``jpeg`` or ``png``.
        overlay_side: The overlay's longest side (None: the image's full size).
        dicom_out: Folder for DICOM SC + SR of DICOM inputs.
        sr: The SR written with the SC: ``"tid1500"`` (a Measurement Report), ``"basic"``, or None.
        not_analysed: Also write a "not analysed: reason" report for a DICOM input that has
            no result (the node: what a PACS user sees instead of nothing).
        space_wait_s: When a write finds the disk full, wait this long and try again, for as
            long as it takes (the node, which stops accepting images meanwhile); None: the
            job stops with the "no space left" error (``score``: exit 2, ``--resume`` goes on).
    """

    maps: bool = False
    cam_dir: Path | None = None
    map_format: str = "compact"
    overlay_format: str = "jpeg"
    overlay_side: int | None = PREVIEW_SIDE
    dicom_out: Path | None = None
    sr: bool | str | None = "tid1500"
    not_analysed: bool = False
    space_wait_s: float | None = None

    def __post_init__(self) -> None:
        self.cam_dir = None if self.cam_dir is None else Path(self.cam_dir)
        self.dicom_out = None if self.dicom_out is None else Path(self.dicom_out)
        self.maps = maps_needed(self.maps, self.cam_dir, self.dicom_out)

    @property
    def preview_side(self) -> int | None | bool:
        """The preview decoding must keep (False: none, no files are drawn)."""
        return self.overlay_side if self.cam_dir is not None or self.dicom_out is not None else False

    def write(self, result: Result) -> None:
        """Write one result's files (a result without a map writes none)."""
        if result.error and self.not_analysed and self.dicom_out is not None:
            from .dicom import write_not_analysed

            try:
                written = write_not_analysed(result.path, self.dicom_out, result.error, result.model)
            except ValueError:  # not DICOM, or no valid UIDs to refer to: nothing a PACS could file
                return
            result.files["dicom_outputs"] = ";".join(str(p) for p in written)
            return
        if result.error or result.explanation is None or (self.cam_dir is None and self.dicom_out is None):
            return
        map_file = overlay = None
        if self.cam_dir is not None:
            map_file, overlay = cam_dir_names(self.cam_dir, result.index, result.path, self.map_format, self.overlay_format)
        write_result_files(
            result,
            map_file=map_file,
            map_format=self.map_format,
            overlay=overlay,
            overlay_side=self.overlay_side,
            dicom_out=self.dicom_out,
            sr=self.sr,
        )
