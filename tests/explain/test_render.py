"""Overlay rendering: the caption is wrapped, never cut, on small films."""

from __future__ import annotations

import numpy as np

from cxr_miliary.explain import caption
from cxr_miliary.explain.render import _wrap, overlay


def test_wrap_keeps_every_word_within_width():
    text = caption(0.581, True, "focal", reliable=False)
    lines = _wrap(text, lambda s: 7.0 * len(s), 300)
    assert " ".join(lines) == text
    assert all(7.0 * len(line) <= 300 for line in lines if " " in line)
    assert len(lines) > 1


def test_small_overlay_grows_its_caption_band_instead_of_cutting_it():
    img = np.full((440, 440), 0.5, np.float32)
    long_caption = overlay(img, np.zeros_like(img), caption=caption(0.581, True, "focal", reliable=False))
    short_caption = overlay(img, np.zeros_like(img), caption="p=0.1")
    band = lambda o: int(((o == 0).all(axis=2).mean(axis=1) > 0.5).sum())  # noqa: E731 - rows mostly black: the caption band

    assert band(long_caption) >= band(short_caption) + 8  # a second line, not a cut
