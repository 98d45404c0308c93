"""The phantom patterns, difficulty tiers and film conditions (names only: the CLI lists them without loading the renderer)."""

#: Patterns that carry the miliary / reticulonodular label.
POSITIVE_PATTERNS = ("miliary", "reticulonodular")
#: Confounders (label 0). "normal" has no finding at all.
NEGATIVE_PATTERNS = ("normal", "masses", "consolidation", "clustered-zone", "unilateral-nodules", "effusion", "vascular", "texture")
ALL_PATTERNS = POSITIVE_PATTERNS + NEGATIVE_PATTERNS
DIFFICULTIES = ("florid", "moderate", "subtle")
#: What real films have, drawn on a phantom (:mod:`~cxr_miliary.phantom.conditions` draws them).
CONDITIONS = (
    "normal",
    "consolidation",
    "effusion",
    "haze",
    "white-out",
    "bilateral-opacities",
    "florid-miliary",
    "ap-portable",
    "devices",
    "cardiomegaly",
    "low-volume",
    "real-lungs",
    "real-lungs-held-out",
)
#: Draws from a mix of conditions.
MIXES = ("lung-mix",)
#: How the chest sits in the frame. ``phantom``: as phantoms always were (the lung box's long
#: side 57-76 % of the film's, 10th-90th percentile; a third framed wider, AP films wider still).
#: ``tight``: as real films are collimated (76, 85 and 87 % on three held-out real films, 87 % on
#: the reference CR against its hand outline): the chest scaled so the lung box is 75-87 % of the
#: film (10th-90th percentile, seeds 7003-7004), none cut off.
FRAMINGS = ("phantom", "tight")
