"""Lung outlines drawn by hand on real films, to measure lung fields against (not training data).

``CR-MONO1-10-chest.dcm`` is the public DICOM sample film (440 x 440 CR, from the
pydicom / dicom sample sets) kept under ``shared/reference/real``. Its outlines were drawn
by an engineer, by eye, on a 2x zoom with a 50-px grid — not by a radiologist — so an IoU
against them is good to a few points, not better. Points are (x, y) pixels of that film;
"image-left" is the patient's right lung.

``RG1_UNCR.dcm`` is NEMA's compression test film RG1 (a PA chest CR, 1,841 x 1,955, with
multiple round masses and a large gastric bubble), published in the pydicom-data package
(``pip install pydicom-data``; a dev dependency). Outlined the same way, on 0.45x and
0.75x views with a 100-px grid, before any rule was measured on it; its other encodings
(``RG1_UNCI``, ``RG1_J2KR``, ``RG1_J2KI``) are the same film. :func:`find_film` finds
these films by name in the installed package.
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
    "RG1_UNCR.dcm": {
        "image-left": [
            (560, 195),
            (640, 190),
            (700, 205),
            (760, 240),
            (795, 300),
            (800, 400),
            (800, 500),
            (760, 600),
            (740, 700),
            (720, 800),
            (707, 900),
            (710, 1000),
            (690, 1100),
            (650, 1200),
            (625, 1300),
            (615, 1395),
            (520, 1410),
            (420, 1400),
            (330, 1415),
            (260, 1435),
            (200, 1465),
            (150, 1510),
            (110, 1590),
            (113, 1500),
            (147, 1400),
            (167, 1300),
            (187, 1200),
            (195, 1100),
            (200, 1000),
            (200, 900),
            (207, 800),
            (213, 700),
            (227, 600),
            (260, 500),
            (305, 400),
            (360, 320),
            (420, 260),
            (480, 220),
        ],
        "image-right": [
            (1100, 200),
            (1180, 185),
            (1260, 192),
            (1340, 228),
            (1420, 290),
            (1500, 400),
            (1543, 500),
            (1570, 600),
            (1583, 700),
            (1590, 800),
            (1597, 900),
            (1603, 1000),
            (1610, 1200),
            (1617, 1400),
            (1628, 1520),
            (1645, 1610),
            (1600, 1560),
            (1560, 1505),
            (1500, 1470),
            (1440, 1455),
            (1420, 1400),
            (1390, 1300),
            (1320, 1200),
            (1250, 1100),
            (1170, 1000),
            (1103, 900),
            (1070, 800),
            (1050, 700),
            (1037, 650),
            (1060, 600),
            (1050, 530),
            (1010, 500),
            (1003, 400),
            (1010, 300),
            (1040, 230),
        ],
    },
}
for _alias in ("RG1_UNCI.dcm", "RG1_J2KR.dcm", "RG1_J2KI.dcm"):
    OUTLINES[_alias] = OUTLINES["RG1_UNCR.dcm"]


def find_film(name: str) -> str | None:
    """The path of an outlined film published in pydicom-data (installed, never downloaded), or None."""
    if name not in OUTLINES:
        return None
    try:
        from pydicom.data import get_testdata_file

        return get_testdata_file(name, download=False) or None
    except (ImportError, ValueError, OSError):
        return None
