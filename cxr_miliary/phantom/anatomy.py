"""Chest anatomy as an attenuation map: body, lungs, heart, mediastinum, diaphragm, bones.

Coordinates are normalised so that anatomy scales with the image: ``X`` runs from -1
(image left = patient's right on a PA film) to +1, ``Y`` from 0 (top) to 1 (bottom). A
small rotation and shift of the patient is applied to the coordinates themselves, which
costs nothing compared with rotating the rendered image. Values are in arbitrary
attenuation units where higher means denser (whiter on the display).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

#: Largest side the smooth anatomy is rendered at (edges ~3 px there: about 1 mm on a
#: 35-43 cm film, finer than the 0.7-0.8 mm pixels a 512-px network input has).
ANATOMY_WORK_MAX = 1024
#: How much darker the air of the outlined lung makes the film at full chest depth
#: (attenuation units; the chest wall is ~0.9; 0.7 of it where the chest is thinnest).
LUNG_AIR = 0.42


def _sig(z: np.ndarray, soft: float) -> np.ndarray:
    """Smooth step 0 -> 1 as ``z`` crosses 0 with width ``soft``."""
    return 0.5 * (1.0 + np.tanh(z / soft))


@dataclass
class Style:
    """Anatomy as real films vary it; the defaults are the PA phantom as it always was.

    Every variation maps values already drawn (the random draws keep their order), so a
    normal phantom of a (seed, index) renders exactly as before.

    Attributes:
        dome_lift: How much higher (Y units) the image-left and image-right domes sit (an
            eventration: 0.08-0.15; AP supine films: both).
        dome_flat: 0 normal domes; 1 low, flat domes (hyperinflation).
        lordosis: An AP film's lordotic tilt (Y units): the clavicles projected up over or
            above the apices, the domes up by half as much.
        shift: A rotated patient (X units): heart, mediastinum and trachea off the midline.
        low_volume: Low lung volumes (Y units): the costophrenic angles, the domes and the
            heart this much higher (a supine film, a shallow breath, an obese or ventilated
            patient): lungs short for their width, as on many real AP films.
        scapulae_over: The scapulae over the upper lateral lungs (arms not forward: AP films).
        wide: Wide collimation: neck, shoulders and upper abdomen in the frame.
        habitus: Soft-tissue thickness: under 1 a small patient, over 1 a large one.
        gas_close: Gastric and colonic gas right under the domes.
        heart_scale: The heart's width against the phantom's own (over 1: an enlarged heart,
            cardiomegaly; its height grows by half as much).
        framing_scale: The chest's scale in the frame, replacing the drawn one (which is still
            drawn, so the other draws keep their order); 0 keeps the drawn framing. Real films
            are collimated tighter than the phantoms' default framing (see
            :data:`~cxr_miliary.phantom.patterns.FRAMINGS`).
        real_shape: Lungs outlined on a real film instead of the drawn shape (an index into
            :func:`~cxr_miliary.phantom.real_shapes.real_shapes` of ``real_split``, taken
            modulo its length); -1 keeps the drawn shape.
        real_split: The outlines ``real_shape`` picks from (``train`` or ``held-out``).
    """

    dome_lift: tuple[float, float] = (0.0, 0.0)
    dome_flat: float = 0.0
    lordosis: float = 0.0
    shift: float = 0.0
    low_volume: float = 0.0
    scapulae_over: bool = False
    wide: bool = False
    habitus: float = 1.0
    gas_close: bool = False
    heart_scale: float = 1.0
    framing_scale: float = 0.0
    real_shape: int = -1
    real_split: str = "train"

    def record(self) -> dict[str, float]:
        """The variations as phantom record fields (what differs from the normal PA phantom)."""
        out = {
            "dome_lift_left_image": self.dome_lift[0],
            "dome_lift_right_image": self.dome_lift[1],
            "dome_flat": self.dome_flat,
            "lordosis": self.lordosis,
            "low_volume": self.low_volume,
            "rotation_shift": self.shift,
            "scapulae_over": float(self.scapulae_over),
            "wide": float(self.wide),
            "habitus": self.habitus,
            "gas_close": float(self.gas_close),
            "heart_scale": self.heart_scale,
        }
        if self.real_shape >= 0:  # only where used: every other phantom's record stays as it was
            out["real_shape"] = self.real_shape
        return {k: round(float(v), 4) for k, v in out.items()}


NORMAL = Style()


@dataclass
class Anatomy:
    """The rendered anatomy and the geometry later stages need."""

    attenuation: np.ndarray  # float32 HxW
    lung_mask: np.ndarray  # bool HxW, both lungs
    lung_side: np.ndarray  # int8 HxW: 0 outside, 1 image-left lung (patient right), 2 image-right lung
    hila: list[tuple[float, float]]  # (row, col) of the two hila, image-left first
    params: dict[str, float]
    #: float32 HxW: how much darker the air in the lungs makes the film (attenuation units): the
    #: outlined lung, and the lung outside the outline, behind the heart and mediastinum and in
    #: the posterior recesses below the domes. Disease that fills the lungs with fluid displaces
    #: a share of it, up to the pleura (see ``conditions``).
    air: np.ndarray


def coordinates(size: int, rng: np.random.Generator, style: Style = NORMAL) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
    """Normalised, slightly rotated/shifted/scaled patient coordinates for a square image."""
    angle = np.deg2rad(rng.uniform(-4, 4))
    # a third of the films are framed wider: more neck above, more abdomen below
    scale = rng.uniform(0.92, 1.06) if rng.random() < 0.67 else rng.uniform(0.76, 0.9)
    if style.wide:  # an AP portable film collimated wide: the chest a smaller part of the frame
        scale *= 0.82
    drawn = scale
    if style.framing_scale:  # a framing chosen by the caller (tight, as real films are)
        scale = style.framing_scale
    dx, dy = rng.uniform(-0.05, 0.05), rng.uniform(-0.04, 0.04)
    ax = (np.arange(size, dtype=np.float32) + 0.5) / size
    xs = (ax - 0.5) * 2.0
    ys = ax
    X0, Y0 = np.meshgrid(xs, ys)
    cx, cy = 0.0, 0.5
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    Xr = ((X0 - cx) * c - (Y0 - cy) * s * 2.0) / scale + cx - dx
    Yr = ((X0 - cx) * s * 0.5 + (Y0 - cy) * c) / scale + cy - dy
    return (
        Xr.astype(np.float32),
        Yr.astype(np.float32),
        {"rotation_deg": float(np.rad2deg(angle)), "scale": float(scale), "drawn_scale": float(drawn)},
    )


def render_anatomy(size: int, rng: np.random.Generator, female: bool | None = None, style: Style = NORMAL) -> Anatomy:
    """Render a PA chest with varied lung shape and size, heart, bones and soft tissue.

    Everything here is smooth at the scale of a pixel, so large images are rendered at
    half resolution, and detector-sized ones at :data:`ANATOMY_WORK_MAX` pixels, then
    upsampled (the fine detail - vessels, nodules, noise - is drawn later at full
    resolution): a 4,300-px film costs what a 2,048-px one does here.

    Args:
        size: Image side in pixels.
        rng: Random generator (all variation comes from it).
        female: Add breast shadows; random when None.
        style: Variations real films have (:class:`Style`; default: the normal PA phantom).

    Returns:
        The :class:`Anatomy`.
    """
    work = min(size // 2, ANATOMY_WORK_MAX) if size >= 512 else size
    A, lungs, sides, hila, p, air = _render(work, rng, female, style)
    if work != size:
        # OpenCV's resize is the same half-pixel-centred interpolation as scipy's grid-mode zoom, 5x faster
        A = cv2.resize(np.ascontiguousarray(A, dtype=np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        lungs = cv2.resize(np.ascontiguousarray(lungs, dtype=np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
        sides = cv2.resize(np.ascontiguousarray(sides, dtype=np.uint8), (size, size), interpolation=cv2.INTER_NEAREST).astype(np.int8)
        air = cv2.resize(np.ascontiguousarray(air, dtype=np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    lung_mask = lungs > 0.5
    side_map = np.where(lung_mask, sides, 0).astype(np.int8)
    px_hila = [(hr * size, (hc + 1) / 2 * size) for hr, hc in hila]
    return Anatomy(A.astype(np.float32), lung_mask, side_map, px_hila, p, air.astype(np.float32))


def _render(size: int, rng: np.random.Generator, female: bool | None, style: Style = NORMAL) -> tuple:
    """Render at ``size``: attenuation, soft lung map, side map, hila (normalised), params, air."""
    X, Y, geo = coordinates(size, rng, style)
    p: dict[str, float] = dict(geo)
    soft = 3.0 / size * 2.0  # edge softness ~ 3 px

    # --- body / soft tissue: a torso that narrows to the neck at the top
    body_w = rng.uniform(0.86, 0.98)
    shoulder_y = rng.uniform(0.05, 0.10)
    width_at = np.where(shoulder_y > Y, 0.28 + (body_w - 0.28) * np.clip((Y + 0.02) / (shoulder_y + 0.02), 0, 1) ** 2, body_w)
    xr = np.abs(X) / width_at
    body = _sig(1.0 - xr, soft * 2)
    thickness = np.sqrt(np.clip(1.0 - xr**2, 0.0, 1.0))
    # the chest wall's soft tissue stays clearly denser than aerated lung, as on real films;
    # a large patient's soft tissue is thicker still (the lungs less dark against it)
    A = (0.78 + 0.17 * thickness) * body * style.habitus

    # --- lungs (side s: -1 image left, +1 image right)
    apex = rng.uniform(0.09, 0.15)
    base = rng.uniform(0.74, 0.84) + 0.06 * style.dome_flat - 0.5 * style.lordosis - style.low_volume
    lat_w = rng.uniform(0.66, 0.80)
    med = rng.uniform(0.10, 0.14)
    lungs = np.zeros_like(X)
    recess = np.zeros_like(X)
    side_map = np.zeros(X.shape, dtype=np.int8)
    hila: list[tuple[float, float]] = []
    domes: dict[float, Any] = {}  # per side: (top, middle, half width, base), or a real outline's lower edge
    for idx, s in enumerate((-1.0, 1.0)):
        u = X * s
        asym = rng.uniform(-0.02, 0.02)
        dome_top = base - rng.uniform(0.07, 0.13) * (1.0 - 0.8 * style.dome_flat) + (0.02 if s > 0 else -0.01) + asym  # right dome higher
        dome_top -= style.dome_lift[idx]  # an eventration, or an AP supine film's high domes
        lw = lat_w * rng.uniform(0.95, 1.03)
        u_apex = rng.uniform(0.22, 0.30)
        lateral = lw * (1.0 - np.exp(-np.clip(Y - apex + 0.02, 0, None) / rng.uniform(0.10, 0.16)))
        in_lat = lateral - u
        in_med = u - (med + 0.03 * np.clip(0.35 - Y, 0, None) / 0.35)
        in_top = Y - (apex + 1.6 * (u - u_apex) ** 2)
        mid = (med + lw) / 2.0
        half = (lw - med) / 2.0
        dome = dome_top + (base + 0.04 - dome_top) * np.clip(((u - mid * 0.95) / half) ** 2, 0, 1.6)
        in_bottom = dome - Y
        domes[s] = (dome_top, mid, half, base)
        lung = _sig(in_lat, soft) * _sig(in_med, soft) * _sig(in_top, soft) * _sig(in_bottom, soft)
        lungs = np.maximum(lungs, lung)
        # posterior costophrenic recess: aerated lung behind the dome, fading below it
        behind_dome = _sig(in_lat - 0.03, soft * 3) * _sig(in_med, soft) * _sig(-in_bottom, soft) * np.exp(-np.clip(-in_bottom, 0, None) / 0.05)
        recess = np.maximum(recess, behind_dome)
        side_map[(lung > 0.5)] = idx + 1
        hila.append((0.44 + rng.uniform(-0.03, 0.03), s * (med + 0.10 + rng.uniform(-0.02, 0.02)) + style.shift))
        p[f"dome_{'right' if s < 0 else 'left'}"] = float(dome_top)

    rib_base = base
    if style.real_shape >= 0:  # lungs outlined on a real film, in this chest's box; the draws above are kept
        lungs, recess, side_map, domes, lift = _real_lungs(X, Y, soft, style, apex, lat_w, domes)
        p.update(dome_right=lift["dome_right"], dome_left=lift["dome_left"])
        rib_base = max(base, lift["angles"])  # the rib cage keeps its size; short lungs end above its last ribs

    # --- heart and mediastinum carve the medial lung and add density
    hx, hy = rng.uniform(0.10, 0.16) + style.shift, rng.uniform(0.60, 0.68) - 0.5 * style.lordosis - 0.5 * style.low_volume
    if style.real_shape >= 0:  # the heart sits on the domes
        hy += lift["shift"]
    hw, hh = rng.uniform(0.24, 0.32), rng.uniform(0.13, 0.17)
    hw, hh = hw * style.heart_scale, hh * (1.0 + 0.5 * (style.heart_scale - 1.0))
    # the cardiac silhouette: an ellipse whose lower half sits on the diaphragm (no lower
    # border of its own), its right border (image left) flatter than the left
    squash = np.where(hx > X, 1.25, 1.0)
    r_heart = ((X - hx) * squash / hw) ** 2 + ((np.minimum(Y, hy) - hy) / hh) ** 2
    heart = _sig(1.0 - r_heart, soft * 3) * _sig(Y - hy + hh, soft * 3)
    mediast_w = med + 0.02 + 0.05 * _sig(0.30 - Y, 0.03) * _sig(Y - 0.20, 0.03) * (X > 0)  # aortic knob
    mediast = _sig(mediast_w - np.abs(X - 0.01 - style.shift), soft * 3) * _sig(Y - 0.02, soft)
    # the lung fields a reader outlines stop at the heart and mediastinum, but aerated lung
    # lies behind them too: the heart is a soft-tissue silhouette, not an opaque disc
    behind = lungs * np.maximum(heart, mediast)
    lungs = lungs * (1.0 - heart) * (1.0 - mediast)
    p.update(heart_cx=float(hx), heart_w=float(hw), cardiothoracic=float(hw / lat_w))

    depth = 0.7 + 0.3 * thickness
    air = [LUNG_AIR * np.sqrt(np.clip(lungs, 0, 1)) * depth, 0.22 * np.sqrt(np.clip(behind, 0, 1)) * depth, 0.14 * recess * depth]
    A = A - air[0] - air[1] - air[2]  # one by one, as always: every seed's film stays the same to the bit
    A = A + 0.12 * heart * np.sqrt(np.clip(1.0 - r_heart, 0, 1)) + 0.05 * mediast

    # gas below both hemidiaphragms: the gastric fundus under the left dome (image right),
    # colonic gas (the hepatic and splenic flexures) under either; a lung field must stop
    # at the dome above them however dark they are
    A = A - _abdominal_gas(X, Y, rng, soft, domes, close=style.gas_close)
    A = A + _shoulder_girdle(X, Y, rng, soft, lat_w, over=style.scapulae_over) * body

    # --- spine: vertebral bodies and disc spaces, faint through the mediastinum
    spine = _sig(0.045 - np.abs(X), soft) * body
    period = rng.uniform(0.042, 0.05)
    discs = 0.5 + 0.5 * np.cos(2 * np.pi * (Y / period))
    A = A + spine * (0.035 + 0.02 * discs)
    # trachea: an air column from the neck down to the carina, then the two main bronchi
    # towards the hila (the right one steeper and shorter); lung fields must stay out of it
    A = A - _airway(X, Y, rng, soft, hila, shift=style.shift)

    A = A + _ribs(X, Y, rng, soft, lat_w, apex, rib_base) * body
    A = A + _clavicles(X, Y, rng, soft, lift=style.lordosis)
    if female if female is not None else rng.random() < 0.5:
        A = A + _breasts(X, Y, rng, soft, lat_w)
        p["breasts"] = 1.0
    return A.astype(np.float32), lungs.astype(np.float32), side_map, hila, p, (air[0] + air[1] + air[2]).astype(np.float32)


def _ribs(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, soft: float, lat_w: float, apex: float, base: float) -> np.ndarray:
    """Posterior and anterior rib arcs as two periodic families of curves."""
    u = np.abs(X)
    out = np.zeros_like(X)
    thorax = _sig(lat_w + 0.06 - u, soft * 2) * _sig(Y - apex + 0.06, soft * 2) * _sig(base + 0.05 - Y, soft * 4)
    # posterior ribs: leave the spine rising slightly, then fall laterally
    sp = rng.uniform(0.060, 0.072)
    curve = -0.10 * u + rng.uniform(0.55, 0.75) * u**2
    phase = (Y - curve - apex + 0.05) / sp
    frac = phase - np.floor(phase)
    duty = rng.uniform(0.38, 0.48)
    band = _sig(duty - frac, 0.04) * _sig(frac, 0.04)
    cortex = np.exp(-(((frac - 0.02) / 0.05) ** 2)) + np.exp(-(((frac - duty + 0.02) / 0.05) ** 2))
    post = (0.022 * band + 0.014 * cortex * band) * _sig(u - 0.05, soft) * _sig(phase, 0.2) * _sig(11.5 - phase, 0.2)
    # anterior ribs: fall medially towards the sternum, cartilage invisible medially
    sa = rng.uniform(0.075, 0.09)
    phase_a = (Y + 0.45 * u - apex - 0.28) / sa
    frac_a = phase_a - np.floor(phase_a)
    band_a = _sig(0.40 - frac_a, 0.05) * _sig(frac_a, 0.05)
    ant = 0.018 * band_a * _sig(u - 0.25, 0.05) * _sig(phase_a, 0.2) * _sig(6.5 - phase_a, 0.2)
    out = (post + ant) * thorax
    return out


def _shoulder_girdle(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, soft: float, lat_w: float, over: bool = False) -> np.ndarray:
    """Scapulae (thin plates over the upper lateral chest, medial border over the lung) and humeral heads."""
    out = np.zeros_like(X)
    u = np.abs(X)
    rotated_out = rng.random() < 0.5 and not over  # arms forward on a good PA film: scapulae mostly clear of the lungs
    medial = rng.uniform(0.60, 0.70) if rotated_out else rng.uniform(0.45, 0.58)
    top, bottom = rng.uniform(0.10, 0.16), rng.uniform(0.42, 0.55)
    border = medial + 0.25 * (Y - top) * (bottom - Y)  # a gently curved medial border
    plate = _sig(u - border, soft * 2) * _sig(Y - top, soft * 4) * _sig(bottom - Y - 0.4 * (u - border), soft * 4)
    cortex = np.exp(-(((u - border) / (soft * 3)) ** 2)) * _sig(Y - top, soft * 4) * _sig(bottom - Y, soft * 4)
    out += rng.uniform(0.03, 0.05) * plate + 0.04 * cortex
    hy, hr = rng.uniform(0.06, 0.14), rng.uniform(0.08, 0.11)
    head = _sig(1.0 - ((u - rng.uniform(0.92, 1.02)) / hr) ** 2 - ((Y - hy) / (hr * 0.5)) ** 2, soft * 2)
    out += rng.uniform(0.08, 0.14) * head
    return out


def _clavicles(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, soft: float, lift: float = 0.0) -> np.ndarray:
    """Two clavicles running from the sternal notch up and out to the shoulders (``lift``: a lordotic film's, projected higher)."""
    u = np.abs(X)
    y0 = rng.uniform(0.13, 0.18) - lift
    centre = y0 - 0.16 * (u - 0.06) + 0.05 * np.sin(np.clip((u - 0.06) / 0.55, 0, 1) * np.pi) * 0.4
    half = rng.uniform(0.011, 0.015) * (1.0 + 0.4 * np.clip(0.2 - u, 0, 0.2) / 0.2)
    d = np.abs(Y - centre)
    band = _sig(half - d, soft)
    extent = _sig(u - 0.05, soft) * _sig(0.62 - u, 0.02)
    return (0.10 * band + 0.05 * np.exp(-(((d - half) / (soft * 1.5)) ** 2))) * extent


def _breasts(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, soft: float, lat_w: float) -> np.ndarray:
    """Breast shadows: dense lower-lateral half discs with a curved lower edge."""
    out = np.zeros_like(X)
    r = rng.uniform(0.28, 0.38)
    cy = rng.uniform(0.70, 0.78)
    for s in (-1.0, 1.0):
        cx = s * lat_w * rng.uniform(0.55, 0.7)
        rr = ((X - cx) / r) ** 2 + ((Y - cy) / (r * 0.55)) ** 2
        shadow = _sig(1.0 - rr, soft * 3) * _sig(Y - cy + 0.02, 0.04)
        out += rng.uniform(0.03, 0.06) * shadow * np.sqrt(np.clip(1 - rr, 0, 1) + 0.2)
    return out


def _tube(X: np.ndarray, Y: np.ndarray, start: tuple[float, float], end: tuple[float, float], radius: float, soft: float) -> np.ndarray:
    """A straight air tube (in normalised coordinates ``(x, y)``) with soft walls: 1 inside, 0 outside."""
    (x0, y0), (x1, y1) = start, end
    dx, dy = x1 - x0, (y1 - y0) * 2.0  # Y spans half the units of X per pixel
    length2 = dx * dx + dy * dy
    t = np.clip(((X - x0) * dx + (Y - y0) * 2.0 * dy) / max(length2, 1e-9), 0.0, 1.0)
    dist = np.sqrt((X - x0 - t * dx) ** 2 + (2.0 * (Y - y0) - t * dy) ** 2)
    return _sig(radius - dist, soft)


def _airway(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, soft: float, hila: list[tuple[float, float]], shift: float = 0.0) -> np.ndarray:
    """Attenuation removed by the tracheal air column (continuous with the neck) and the main bronchi."""
    carina_y = rng.uniform(0.36, 0.42)
    cx = rng.uniform(-0.01, 0.02) + shift
    width = rng.uniform(0.024, 0.034)  # half-width in X units: 15-22 mm on a 35-43 cm film
    depth = rng.uniform(0.12, 0.22)  # darker on some films than others, always an air column
    # the trachea runs from the top of the film (the neck) to the carina, deviating a little
    sway = rng.uniform(-0.01, 0.01)
    centre = cx + sway * np.sin(np.clip(Y / max(carina_y, 1e-3), 0, 1) * np.pi)
    trachea = _sig(width - np.abs(X - centre), soft) * _sig(carina_y - Y, soft * 2)
    air = trachea
    for (_hy, hx), steep in zip(hila, (rng.uniform(0.5, 0.8), rng.uniform(0.25, 0.45)), strict=False):
        # main bronchus: from the carina towards the hilum, narrowing; the right (image left) is steeper
        end_x = cx + (hx - cx) * rng.uniform(0.65, 0.85)
        end_y = carina_y + abs(end_x - cx) * steep
        tube = _tube(X, Y, (cx, carina_y - 0.005), (end_x, end_y), width * rng.uniform(0.55, 0.75), soft)
        air = np.maximum(air, tube)
    return depth * air


def _abdominal_gas(X: np.ndarray, Y: np.ndarray, rng: np.random.Generator, soft: float, domes: dict[float, Any], close: bool = False) -> np.ndarray:
    """Attenuation removed by gastric and colonic gas under the hemidiaphragms (varied: none to a lot; ``close``: right under the domes)."""
    gap = 0.25 if close else 1.0  # the dome's own soft tissue, a few mm, is all that parts gas from lung
    out = np.zeros_like(X)

    def dome_y(side: float, x: float) -> float:
        if callable(domes[side]):  # a real outline's lower edge
            return float(domes[side](x))
        top, mid, half, base = domes[side]
        u = x * side
        return top + (base + 0.04 - top) * min(((u - mid * 0.95) / half) ** 2, 1.6)

    # the gastric fundus under the left dome (image right), with an air-fluid level
    if rng.random() < 0.75:
        gx = rng.uniform(0.25, 0.45)
        gw, gh = rng.uniform(0.06, 0.13), rng.uniform(0.025, 0.05)
        gy = dome_y(1.0, gx) + gh + rng.uniform(0.01, 0.04) * gap
        level = gy + gh * rng.uniform(-0.2, 0.5)
        bubble = _sig(1.0 - ((X - gx) / gw) ** 2 - ((Y - gy) / gh) ** 2, soft * 2) * _sig(level - Y, soft)
        out += rng.uniform(0.10, 0.22) * bubble
    # colonic gas: the hepatic flexure under the right dome, the splenic one under the left,
    # each a short chain of haustral segments
    for side, chance in ((-1.0, 0.45), (1.0, 0.45)):
        if rng.random() >= chance:
            continue
        n = int(rng.integers(2, 6))
        x = side * rng.uniform(0.30, 0.65)
        y = dome_y(side, x) + rng.uniform(0.05, 0.12) * gap
        heading = rng.uniform(-0.6, 0.6) + (np.pi if rng.random() < 0.5 else 0.0)
        depth = rng.uniform(0.06, 0.18)
        for _ in range(n):
            r = rng.uniform(0.025, 0.055)
            seg = _sig(1.0 - ((X - x) / r) ** 2 - ((Y - y) / (r * rng.uniform(0.35, 0.6))) ** 2, soft * 2)
            out += depth * rng.uniform(0.7, 1.0) * seg
            heading += rng.uniform(-0.5, 0.5)
            x += 1.6 * r * np.cos(heading)
            y = max(y + 0.8 * r * np.sin(heading) * 0.5, dome_y(side, x) + r * (0.6 if not close else 0.45))
    return out


def _real_lungs(X: np.ndarray, Y: np.ndarray, soft: float, style: Style, apex: float, lat_w: float, drawn: dict[float, Any]) -> tuple:
    """Lungs outlined on a real film (:mod:`.real_shapes`) over this chest: from its apex, across its width, as tall as the real pair is for its width.

    Returns the soft lung map, the posterior recesses below the lower edges, the side map,
    each side's lower edge (Y for an X, for the gas under the domes), and where the real
    domes sit: their tops, the angles' mean and how much higher or lower than the drawn domes.
    """
    from .real_shapes import GRID, real_shapes

    shapes = real_shapes(style.real_split)
    shape = shapes[style.real_shape % len(shapes)]
    # X spans 2 units across the film and Y 1 unit down it: a box lat_w * size pixels wide
    # is ratio * lat_w * size tall
    height = shape.ratio * lat_w
    left = -lat_w + style.shift
    gu = ((X - left) / (2.0 * lat_w) * GRID - 0.5).astype(np.float32)
    gv = ((Y - apex) / height * GRID - 0.5).astype(np.float32)
    lungs = np.zeros_like(X)
    recess = np.zeros_like(X)
    side_map = np.zeros(X.shape, dtype=np.int8)
    domes: dict[float, Any] = {}
    tops, angles = {}, []
    for idx, s in enumerate((-1.0, 1.0)):
        grid = shape.sides[idx]
        lung = _sig(cv2.remap(grid, gu, gv, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0) - 0.5, 0.08)
        lungs = np.maximum(lungs, lung)
        side_map[lung > 0.5] = idx + 1
        cols = np.flatnonzero((grid > 0.5).any(axis=0))
        low = np.array([np.flatnonzero(grid[:, c] > 0.5)[-1] for c in cols], dtype=np.float64)
        xs = left + (cols + 0.5) / GRID * 2.0 * lat_w
        ys = apex + (low + 0.5) / GRID * height
        domes[s] = functools.partial(np.interp, xp=xs, fp=ys)  # clamped beyond the lung: the angle's height
        edge = np.interp(X, xs, ys).astype(np.float32)
        inside = _sig(X - xs[0] - 0.03, soft) * _sig(xs[-1] - 0.03 - X, soft)  # not under the lateral wall
        below = _sig(Y - edge, soft) * np.exp(-np.clip(Y - edge, 0, None) / 0.05)
        recess = np.maximum(recess, inside * below)
        middle = (xs > xs[0] + 0.25 * (xs[-1] - xs[0])) & (xs < xs[-1] - 0.25 * (xs[-1] - xs[0]))
        tops[s] = float(ys[middle].min()) if middle.any() else float(ys.min())
        angles.append(float(ys.max()))
    drawn_tops = [v[0] for v in drawn.values() if not callable(v)]
    shift = float(np.mean(list(tops.values())) - np.mean(drawn_tops)) if drawn_tops else 0.0
    lift = {"dome_right": tops[-1.0], "dome_left": tops[1.0], "angles": float(np.mean(angles)), "shift": shift}
    return lungs, recess, side_map, domes, lift
