"""Lung outlines drawn by hand on real films, to measure lung fields against (not training data).

``CR-MONO1-10-chest.dcm`` is the public DICOM sample film (440 x 440 CR, from the
pydicom / dicom sample sets) kept under ``shared/reference/real``. Its outlines were drawn
by an engineer, by eye, on a 2x zoom with a 50-px grid — not by a radiologist — so an IoU
against them is good to a few points, not better. Points are (x, y) pixels of that film;
"image-left" is the patient's right lung.
"""

from __future__ import annotations

OUTLINES: dict[str, dict[str, list[tuple[int, int]]]] = {
    "CR-MONO1-10-chest.dcm": {
        "image-left": [
            (130, 35),
            (165, 40),
            (172, 60),
            (158, 100),
            (152, 150),
            (155, 200),
            (162, 250),
            (172, 300),
            (175, 335),
            (150, 340),
            (110, 345),
            (80, 352),
            (50, 370),
            (25, 405),
            (18, 380),
            (25, 330),
            (38, 280),
            (45, 220),
            (48, 160),
            (52, 110),
            (70, 75),
            (95, 50),
        ],
        "image-right": [
            (255, 38),
            (285, 38),
            (305, 55),
            (345, 100),
            (360, 150),
            (368, 200),
            (375, 250),
            (378, 300),
            (383, 350),
            (385, 395),
            (378, 418),
            (362, 395),
            (345, 368),
            (320, 345),
            (300, 310),
            (282, 260),
            (262, 230),
            (252, 200),
            (250, 150),
            (250, 100),
            (248, 60),
        ],
    },
}
