"""The phantom patterns and difficulty tiers (names only: the CLI lists them without loading the renderer)."""

#: Patterns that carry the miliary / reticulonodular label.
POSITIVE_PATTERNS = ("miliary", "reticulonodular")
#: Confounders (label 0). "normal" has no finding at all.
NEGATIVE_PATTERNS = ("normal", "masses", "consolidation", "clustered-zone", "unilateral-nodules", "effusion", "vascular", "texture")
ALL_PATTERNS = POSITIVE_PATTERNS + NEGATIVE_PATTERNS
DIFFICULTIES = ("florid", "moderate", "subtle")
