"""What real films have that the lung fields must survive: opacified lungs, AP portable films, devices, varied bodies.

Each condition changes the film and never the truth: the lung mask stays the *anatomical*
lung, as a reader outlines it on a film where fluid, consolidation or haze hides it.
Air-space disease and fluid are drawn as the share of the lungs' air they displace
(:attr:`Anatomy.air`): only where lung is, up to the pleura, behind the heart and mediastinum
and below the domes, so a white lung meets the chest wall, the heart and the dome with no edge
of its own (the silhouette sign). Blurred masks of the outline, drawn before, left a darker
rim inside the lung's edge and spilt fluid over the chest wall: cues no film has, which the
lung model had learned to follow.

- ``consolidation``: lobar air-space opacity, one to three zones of one or both lungs,
  as dense as soft tissue, with air bronchograms;
- ``effusion``: dependent fluid with a meniscus climbing the lateral wall, from a blunted
  angle to half a hemithorax, one or both sides; the dome and the angle vanish under it;
- ``haze``: bilateral air-space haze (oedema, ARDS, an underexposed AP film), perihilar or
  basal, patchy;
- ``white-out``: one hemithorax opacified (a massive effusion or collapse);
- ``bilateral-opacities``: dense air-space opacities through both lungs, confluent in
  places, with air bronchograms (ARDS, severe pneumonia, oedema; miliary disease itself can
  end in ARDS), mostly on AP portable films with lines: the films where both fields must be
  found with almost no aerated lung to see. The disease displaces a share of the air wherever
  lung is - up to the pleura, behind the heart and mediastinum, below the domes - so the
  chest wall, the heart border and the domes vanish against it (the silhouette sign);
- ``florid-miliary``: the florid tier of the pattern itself, denser still;
- ``ap-portable``: a supine or semi-erect AP film: lordotic tilt, high domes, rotation,
  wide collimation, scapulae over the lungs, usually with lines and leads and some haze;
- ``devices``: ECG leads and their wires, a central line, endotracheal and nasogastric
  tubes, sternotomy wires, surgical clips;
- ``cardiomegaly``: a heart 1.3-1.6 times the phantom's own width (heart failure, a
  pericardial effusion), narrowing the left lung: the two fields are no longer near mirror
  images of each other.
- ``low-volume``: an AP portable film (as ``ap-portable``) with low lung volumes: the angles,
  domes and heart 0.06-0.14 of the film higher, so the lungs are short for their width (a
  supine patient, a shallow breath, obesity, ventilation); half of them with both lungs
  opacified. Real lung masks of COVID-19 films (V7 Labs', shipped in TorchXRayVision; many
  AP) have a lung box 0.815 as tall as wide (median; 0.74-0.90 between the quartiles), the
  other phantoms 0.95-0.98 (their 5th percentile 0.86).
- ``real-lungs``: lungs outlined on real films (:mod:`.real_shapes`: V7 Labs' masks, 338 of
  435 pairs; the other 97 held out for measuring), scaled to the phantom's chest: real apices,
  domes, angles and heights, the heart and mediastinum carving them as on every phantom; AP
  portable films three times in five, devices on all; half with both lungs opacified, 15 % with
  an effusion, 10 % a white-out, 10 % a consolidation, the rest clear
  (:data:`REAL_LUNGS_OPACITIES`). Needs TorchXRayVision (``pip install 'cxr-miliary[txv]'``).
- ``real-lungs-held-out``: the same with the 97 held-out outlines: for measuring only.

Across every condition the body varies too (:func:`style_for`): small and large
patients, flat or eventrated domes, gas right under the domes. The draws use a random
stream of their own, so the anatomy's draws of a (seed, index) are unchanged.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .acquisition import gaussian, smooth
from .anatomy import LUNG_AIR, Anatomy, Style
from .lesions import nodules
from .patterns import CONDITIONS, MIXES

#: The lung model's training mix: every condition but bilateral opacities and cardiomegaly (added
#: later, the first in sets of its own, so that a seed of the mix draws the films it drew
#: before), normal films a quarter.
LUNG_MIX = {
    "normal": 0.25,
    "consolidation": 0.12,
    "effusion": 0.12,
    "haze": 0.10,
    "white-out": 0.06,
    "florid-miliary": 0.08,
    "ap-portable": 0.15,
    "devices": 0.12,
}
#: The conditions whose lungs are outlines of real films, and the outlines each draws from
#: (:mod:`.real_shapes`): training films draw ``real-lungs``, measurements ``real-lungs-held-out``.
REAL_LUNGS = {"real-lungs": "train", "real-lungs-held-out": "held-out"}
#: What fills the lungs of the real-lungs conditions: each air-space condition up to its
#: cumulative share (the rest clear).
REAL_LUNGS_OPACITIES = (("bilateral-opacities", 0.5), ("effusion", 0.65), ("white-out", 0.75), ("consolidation", 0.85))
#: Metal (wires, clips, electrodes) against the anatomy's units (bone is ~0.1): white on any film.
METAL = 0.9


def rng_for_condition(seed: int, index: int) -> np.random.Generator:
    """The condition's own random stream for image ``index`` of set ``seed``."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 0xC0D]))


def choose(name: str, rng: np.random.Generator) -> str:
    """A condition name, a mix drawn from (``lung-mix``), or an error naming the choices."""
    if name in CONDITIONS:
        return name
    if name == "lung-mix":
        names, weights = zip(*LUNG_MIX.items(), strict=True)
        return str(rng.choice(names, p=np.asarray(weights) / sum(weights)))
    raise ValueError(f"condition must be one of {', '.join(CONDITIONS + MIXES)} (got {name!r})")


def style_for(condition: str, rng: np.random.Generator) -> Style:
    """The anatomy of a film with ``condition``; bodies and domes vary under every condition."""
    u = rng.random(6)
    lift = [0.0, 0.0]
    if u[0] < 0.08:  # an eventrated dome, either side
        lift[int(u[1] < 0.5)] = float(rng.uniform(0.08, 0.15))
    style = Style(
        dome_lift=(lift[0], lift[1]),
        dome_flat=float(rng.uniform(0.6, 1.0)) if u[2] < 0.12 else 0.0,
        habitus=float(rng.choice([rng.uniform(0.8, 0.92), 1.0, rng.uniform(1.1, 1.3)], p=[0.2, 0.55, 0.25])),
        gas_close=bool(u[3] < 0.4),
        shift=float(rng.uniform(-0.04, 0.04)) if u[4] < 0.2 else 0.0,
    )
    # most films with both lungs opacified are AP portable films of a patient in intensive care
    if (
        condition in ("ap-portable", "low-volume")
        or (condition == "bilateral-opacities" and rng.random() < 0.7)
        or (condition in REAL_LUNGS and rng.random() < 0.6)  # the outlines' films: many AP portable films
    ):
        high = float(rng.uniform(0.02, 0.07))  # supine: the abdomen pushes both domes up
        style.dome_lift = (style.dome_lift[0] + high, style.dome_lift[1] + high)
        style.dome_flat = 0.0
        style.lordosis = float(rng.uniform(0.02, 0.07))
        style.shift = float(rng.uniform(-0.07, 0.07))
        style.scapulae_over = True
        style.wide = bool(rng.random() < 0.6)
        style.gas_close = bool(rng.random() < 0.6)
    if condition == "low-volume":  # a draw of its own after the AP film's: the other conditions draw as before
        style.low_volume = float(rng.uniform(0.06, 0.14))
    if condition in REAL_LUNGS:  # the outline drawn last too
        style.real_shape = int(rng.integers(1 << 30))
        style.real_split = REAL_LUNGS[condition]
    if condition == "cardiomegaly":  # an enlarged heart (heart failure, pericardial effusion): the left lung narrowed
        style.heart_scale = float(rng.uniform(1.3, 1.6))
    return style


def _noise(shape: tuple[int, int], sigma_frac: float, rng: np.random.Generator) -> np.ndarray:
    """Smooth noise of unit spread, structure ``sigma_frac`` of the side."""
    h, w = shape
    small = rng.standard_normal((max(8, h // 8), max(8, w // 8))).astype(np.float32)
    small = gaussian(small, max(1.0, sigma_frac * small.shape[0]))
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return big / (big.std() + 1e-6)


def _box(side_map: np.ndarray, side: int) -> tuple[int, int, int, int] | None:
    rows = np.flatnonzero((side_map == side).any(axis=1))
    cols = np.flatnonzero((side_map == side).any(axis=0))
    return None if rows.size == 0 else (int(rows[0]), int(rows[-1]), int(cols[0]), int(cols[-1]))


def _midline(anat: Anatomy) -> float:
    """The column between the two lungs' medial edges (the mediastinum's middle); the film's middle without two lungs."""
    boxes = [_box(anat.lung_side, s) for s in (1, 2)]
    return (boxes[0][3] + boxes[1][2]) / 2 if all(boxes) else anat.lung_side.shape[1] / 2


def _air_by_side(anat: Anatomy) -> dict[int, np.ndarray]:
    """The lungs' air (:attr:`Anatomy.air`) each side of the mediastinum: the outlined lung and the lung hidden behind the heart, mediastinum and dome."""
    image_left = np.arange(anat.air.shape[1], dtype=np.float32)[None, :] < _midline(anat)
    return {1: anat.air * image_left, 2: anat.air * ~image_left}


#: The outlined lung's air at a typical chest depth: a disease as dense as soft tissue displaces this much.
FULL_AIR = LUNG_AIR * 0.85


def _consolidation(anat: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Lobar opacity as dense as soft tissue in 1-3 zones (of one or both lungs), ragged, with air bronchograms.

    Drawn as the share of the lung's air displaced, so the opacity runs up to the pleura (the
    silhouette of the chest wall, the heart border or the dome is lost against it) and into the
    lung behind the heart and below the dome: a blurred mask of the outline left a darker rim
    inside the lung's edge that no film has.
    """
    side_map = anat.lung_side
    h, w = side_map.shape
    out = np.zeros((h, w), np.float32)
    sides = [1, 2] if rng.random() < 0.35 else [int(rng.integers(1, 3))]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    air_of = _air_by_side(anat)
    for side in sides:
        box = _box(side_map, side)
        if box is None:
            continue
        top, bottom, left, right = box
        lo, hi = sorted(rng.uniform(0.0, 1.0, 2))
        lo, hi = (lo * 0.7, max(hi, lo * 0.7 + 0.3))  # at least a third of the lung's height
        band = (yy >= top + lo * (bottom - top)) & (yy <= top + hi * (bottom - top))
        ragged = _noise((h, w), 0.08, rng) * 0.15 * (bottom - top)
        if hi > 0.85:  # a lower-zone opacity reaches the lung below the dome's apex too
            band |= yy > top + hi * (bottom - top)
        region = band | (np.abs(yy - top - (lo + hi) / 2 * (bottom - top)) < ragged)
        fill = smooth(region.astype(np.float32), max(1.0, 0.01 * h))  # soft where it meets aerated lung, not at the pleura
        dense = rng.uniform(0.28, 0.45) * (0.85 + 0.15 * _noise((h, w), 0.03, rng).clip(-2, 2) / 2)
        air = air_of[side]
        out += fill * np.clip(dense / FULL_AIR, 0.0, 1.0) * air
        # air bronchograms: dark branching lines inside the opacity
        for _ in range(int(rng.integers(0, 5))):
            y0, x0 = top + (lo + hi) / 2 * (bottom - top), (left + right) / 2
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(0.1, 0.25) * h
            pts = np.array([[x0, y0], [x0 + length * np.cos(angle), y0 + length * np.sin(angle)]], np.int32)
            canvas = np.zeros((h, w), np.uint8)
            cv2.polylines(canvas, [pts], False, 255, max(1, round(0.004 * h)), cv2.LINE_AA)
            out -= canvas.astype(np.float32) / 255 * fill * (air > 0.05 * FULL_AIR) * 0.12
    return np.maximum(out, 0.0)


def _effusion(anat: Anatomy, rng: np.random.Generator, large: bool = False) -> np.ndarray:
    """Dependent fluid with a meniscus that climbs the lateral wall; ``large``: up to the whole hemithorax.

    Fluid is water: it displaces the lung's air below its level, first in the recess behind
    the dome, then up to the pleura, so the dome and the costophrenic angle vanish and the
    opacity meets the chest wall with no edge of its own; a thin layer more than the air
    (the fluid is thicker than the lung it compresses) makes it a little whiter still.
    """
    side_map = anat.lung_side
    h, w = side_map.shape
    out = np.zeros((h, w), np.float32)
    sides = [int(rng.integers(1, 3))] if large or rng.random() >= 0.4 else [1, 2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    air_of = _air_by_side(anat)
    for side in sides:
        box = _box(side_map, side)
        if box is None:
            continue
        top, bottom, left, right = box
        height = bottom - top
        depth = rng.uniform(0.85, 1.0) if large else rng.uniform(0.1, 0.55)
        level = bottom - depth * height
        lateral = left if side == 1 else right
        climb = (1 - np.abs(xx - lateral) / max(right - left, 1)).clip(0, 1) ** 2 * height * rng.uniform(0.08, 0.2)
        fluid = smooth((yy > level - climb).astype(np.float32), max(1.0, 0.006 * h))  # the meniscus: soft against aerated lung
        thickness = rng.uniform(0.38, 0.5) / FULL_AIR  # 1.06-1.4 times the air: the fluid layer is thicker than the lung it compresses
        out += fluid * air_of[side] * thickness
    return out


def _haze(anat: Anatomy, rng: np.random.Generator, strength: tuple[float, float] = (0.12, 0.3)) -> np.ndarray:
    """Bilateral air-space haze: perihilar (bat-wing) or basal, patchy."""
    lungs = anat.lung_mask.astype(np.float32)
    h, w = lungs.shape
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    if rng.random() < 0.5:  # perihilar
        weight = np.zeros((h, w), np.float32)
        for hr, hc in anat.hila:
            weight = np.maximum(weight, np.exp(-(((yy - hr) / (0.25 * h)) ** 2 + ((xx - hc) / (0.2 * w)) ** 2)))
    else:  # basal
        rows = np.flatnonzero(lungs.any(axis=1))
        top, bottom = (rows[0], rows[-1]) if rows.size else (0, h)
        weight = ((yy - top) / max(bottom - top, 1)).clip(0, 1) ** 1.5
    patchy = (0.7 + 0.3 * _noise((h, w), 0.06, rng).clip(-2, 2) / 2).clip(0.3, 1.2)
    # a share of the air displaced (up to the pleura and behind the heart; no rim inside the edge)
    return np.clip((0.3 + 0.7 * weight) * patchy * rng.uniform(*strength) / FULL_AIR, 0.0, 1.0) * anat.air


def _bilateral(anat: Anatomy, rng: np.random.Generator) -> np.ndarray:
    """Air-space opacities through both lungs: a haze everywhere, dense confluent patches over half of each lung or more, air bronchograms."""
    side_map = anat.lung_side
    lungs = anat.lung_mask
    h, w = lungs.shape
    patches = _noise((h, w), rng.uniform(0.04, 0.1), rng)
    cover = rng.uniform(0.5, 1.0)  # the share of the lungs that is dense
    level = np.quantile(patches[lungs], 1 - cover) if lungs.any() else 0.0
    dense = smooth((patches >= level).astype(np.float32), max(1.0, 0.012 * h))
    # consolidated lung is water, as dense as soft tissue and no denser: the patches displace
    # (nearly) all the air, the haze between them a little. Drawn as the share of the air
    # displaced, so the disease reaches the pleura, and the lung behind the heart and
    # mediastinum and below the domes as well: left aerated, that lung would be darker than the
    # white lung beside it, which no film shows.
    solid = np.clip(rng.uniform(0.25, 0.4) * (0.85 + 0.15 * _noise((h, w), 0.03, rng).clip(-2, 2) / 2) / FULL_AIR, 0.0, 1.0)
    haze = rng.uniform(0.08, 0.2) / FULL_AIR
    out = (haze + dense * np.maximum(solid - haze, 0.0)) * anat.air
    for side in (1, 2):  # bronchi running out from each hilum through the opacity
        box = _box(side_map, side)
        if box is None:
            continue
        top, bottom, left, right = box
        x0, y0 = (right if side == 1 else left), top + 0.4 * (bottom - top)
        canvas = np.zeros((h, w), np.uint8)
        for _ in range(int(rng.integers(2, 7))):
            angle = rng.uniform(0.35, 0.65) * np.pi * (1 if side == 1 else -1) + (np.pi if side == 1 else 0) + rng.uniform(-0.6, 0.6)
            length = rng.uniform(0.06, 0.18) * h
            pts = np.array([[x0, y0], [x0 + length * np.cos(angle), y0 + length * np.sin(angle)]], np.int32)
            cv2.polylines(canvas, [pts], False, 255, max(1, round(0.004 * h)), cv2.LINE_AA)
        out -= smooth(canvas.astype(np.float32) / 255, max(1.0, 0.002 * h)) * dense * 0.08
    return out


def _line(canvas: np.ndarray, points: np.ndarray, width: int) -> None:
    cv2.polylines(canvas, [np.round(points).astype(np.int32)], False, 255, max(1, width), cv2.LINE_AA)


def _curve(p0: tuple[float, float], p1: tuple[float, float], bend: float, n: int = 24) -> np.ndarray:
    """A gently bent curve from p0 to p1 (x, y), bowed sideways by ``bend`` of its length."""
    t = np.linspace(0, 1, n)[:, None]
    a, b = np.asarray(p0, np.float32), np.asarray(p1, np.float32)
    normal = np.array([-(b - a)[1], (b - a)[0]], np.float32)
    return a + (b - a) * t + normal * bend * np.sin(np.pi * t)


def devices(anat: Any, rng: np.random.Generator, many: bool) -> tuple[np.ndarray, list[str]]:
    """Leads, lines, tubes, wires and clips where they lie on a chest film (metal white, plastic tubes fainter): (attenuation, names drawn).

    ``anat`` needs only ``lung_mask`` and ``lung_side`` (an :class:`~cxr_miliary.phantom.anatomy.Anatomy`
    or a real film's outlined lungs); ``many``: each kind more likely.
    """
    h, w = anat.lung_mask.shape
    metal = np.zeros((h, w), np.uint8)
    tube = np.zeros((h, w), np.uint8)
    drawn: list[str] = []
    rows = np.flatnonzero(anat.lung_mask.any(axis=1))
    top, bottom = (rows[0], rows[-1]) if rows.size else (int(0.1 * h), int(0.8 * h))
    mid = _midline(anat)
    height = bottom - top
    px = max(1, round(0.0025 * w))  # about 1 mm on a 40 cm film

    def want(p: float) -> bool:
        return rng.random() < (p if not many else min(1.0, p + 0.3))

    if want(0.6):  # ECG electrodes (a snap: ring and dot) with their wires running off the film
        for _ in range(int(rng.integers(3, 6))):
            cx, cy = rng.uniform(0.1, 0.9) * w, top + rng.uniform(-0.1, 0.9) * height
            r = rng.uniform(0.010, 0.016) * w
            cv2.circle(metal, (round(cx), round(cy)), round(r), 255, max(1, px), cv2.LINE_AA)
            cv2.circle(metal, (round(cx), round(cy)), max(1, round(r * 0.3)), 255, -1, cv2.LINE_AA)
            edge = (rng.choice([0.0, w]), rng.uniform(0, h))
            _line(metal, _curve((cx, cy), edge, rng.uniform(-0.3, 0.3)), px)
        drawn.append("ecg")
    if want(0.35):  # sternotomy wires: twisted loops down the sternum
        for k in range(int(rng.integers(4, 8))):
            cy = top + (0.15 + 0.08 * k) * height
            cv2.ellipse(metal, (round(mid), round(cy)), (round(0.018 * w), round(0.007 * h)), rng.uniform(-15, 15), 0, 360, 255, 2 * px, cv2.LINE_AA)
            cv2.line(
                metal, (round(mid), round(cy - 0.01 * h)), (round(mid + rng.uniform(-3, 3) * px), round(cy + 0.012 * h)), 255, 2 * px, cv2.LINE_AA
            )
        drawn.append("sternotomy")
    if want(0.25):  # surgical clips in the mediastinum and hila
        for _ in range(int(rng.integers(2, 8))):
            cx, cy = mid + rng.uniform(-0.12, 0.12) * w, top + rng.uniform(0.2, 0.6) * height
            a = rng.uniform(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)]) * 0.008 * w
            cv2.line(metal, (round(cx - d[0]), round(cy - d[1])), (round(cx + d[0]), round(cy + d[1])), 255, 2 * px, cv2.LINE_AA)
        drawn.append("clips")
    if want(0.35):  # a central venous line: from the neck or subclavian down into the superior vena cava
        start = (mid + rng.choice([-1, 1]) * rng.uniform(0.15, 0.3) * w, top - rng.uniform(0.02, 0.08) * h)
        end = (mid - rng.uniform(0.01, 0.05) * w, top + rng.uniform(0.25, 0.4) * height)
        _line(tube, _curve(start, end, rng.uniform(-0.2, 0.2)), 2 * px)
        drawn.append("central-line")
    if want(0.25):  # an endotracheal tube in the trachea, tip above the carina
        x = mid + rng.uniform(-0.01, 0.01) * w
        for dx in (-0.008 * w, 0.008 * w):
            _line(tube, np.array([[x + dx, 0], [x + dx, top + rng.uniform(0.05, 0.15) * height]]), px)
        drawn.append("et-tube")
    if want(0.25):  # a nasogastric tube down the oesophagus, across the left dome into the stomach
        x = mid + 0.02 * w
        pts = np.array(
            [[x, 0], [x + 0.01 * w, top + 0.5 * height], [x + 0.06 * w, bottom + 0.02 * h], [x + rng.uniform(0.1, 0.2) * w, bottom + 0.08 * h]]
        )
        _line(tube, pts, 2 * px)
        drawn.append("ng-tube")
    att = metal.astype(np.float32) / 255 * METAL + tube.astype(np.float32) / 255 * rng.uniform(0.12, 0.25)
    return att, drawn


#: The conditions that displace the lungs' air (air-space disease and fluid), drawn by :func:`airspace`.
AIRSPACE = ("consolidation", "effusion", "haze", "white-out", "bilateral-opacities")


def airspace(condition: str, anat: Any, rng: np.random.Generator) -> np.ndarray:
    """The air ``condition`` (one of :data:`AIRSPACE`) displaces (attenuation units, H x W).

    ``anat`` needs only ``lung_side``, ``lung_mask``, ``hila`` and ``air`` (an
    :class:`~cxr_miliary.phantom.anatomy.Anatomy`, or a real film's outlined lungs:
    :mod:`cxr_miliary.phantom.airspace_insertion`). Divided by :data:`FULL_AIR` it is the
    share of a typical chest's air displaced (1: as dense as soft tissue).
    """
    if condition == "consolidation":
        return _consolidation(anat, rng)
    if condition == "effusion":
        return _effusion(anat, rng)
    if condition == "haze":
        return _haze(anat, rng)
    if condition == "white-out":
        return _effusion(anat, rng, large=True)
    if condition == "bilateral-opacities":
        return _bilateral(anat, rng)
    raise ValueError(f"{condition!r} displaces no air (the air-space conditions: {', '.join(AIRSPACE)})")


def apply(condition: str, A: np.ndarray, anat: Anatomy, spacing_mm: float, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, object]]:
    """``A`` with ``condition``'s opacities and devices added (the anatomy's own variations come from :func:`style_for`)."""
    extra: dict[str, object] = {"condition": condition}
    add = np.zeros_like(A, dtype=np.float32)
    if condition in AIRSPACE:
        add += airspace(condition, anat, rng)
    elif condition == "florid-miliary":
        lesion = nodules(anat.lung_mask, spacing_mm, "florid", rng, density_scale=1.5)
        add += lesion.attenuation
    elif condition == "low-volume" and rng.random() < 0.5:  # the patient in intensive care: both lungs white
        add += airspace("bilateral-opacities", anat, rng)
        extra["opacified"] = "bilateral-opacities"
    elif condition in REAL_LUNGS:
        # half with both lungs white; of the rest most with fluid or consolidation in the real
        # outline: a lung model trained on real outlines with clear lungs alone learned to stop
        # at the top of an effusion (the real RG1 drawn with one: 0.825 -> 0.780)
        u = rng.random()
        opacity = next((name for name, upto in REAL_LUNGS_OPACITIES if u < upto), None)
        if opacity is not None:
            add += airspace(opacity, anat, rng)
            extra["opacified"] = opacity
    drawn: list[str] = []
    if condition in ("devices", "ap-portable", "bilateral-opacities", "low-volume", *REAL_LUNGS) or rng.random() < 0.1:
        att, drawn = devices(anat, rng, many=condition != "normal")
        add += att
    if condition in ("ap-portable", "low-volume", *REAL_LUNGS) and rng.random() < 0.6:
        add += _haze(anat, rng, strength=(0.05, 0.18))
    extra["devices"] = ",".join(drawn)
    return A + add, extra
