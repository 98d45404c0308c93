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
)
#: Draws from a mix of conditions.
MIXES = ("lung-mix",)
