"""PadChest's label cells: parsed without evaluating anything, exact terms only."""

from __future__ import annotations

from cxr_miliary.data.labels import DEFAULT_POSITIVE_TERMS, is_positive, normalise_term, parse_label_list


def test_label_cells_parse_to_normalised_terms():
    assert parse_label_list("['normal', ' COPD  signs', \"miliary opacities\", '']") == ["normal", "copd signs", "miliary opacities"]
    assert parse_label_list("[]") is None and parse_label_list(float("nan")) is None and parse_label_list("normal") is None
    assert parse_label_list('[\'__import__("os").system("x")\']') == ['__import__("os").system("x")']  # text, never code
    assert normalise_term("  Miliary   Opacities ") == "miliary opacities"


def test_positive_means_an_exact_term():
    assert is_positive(["miliary opacities"], DEFAULT_POSITIVE_TERMS)
    assert not is_positive(["miliary opacities nos", "pseudonodule"], DEFAULT_POSITIVE_TERMS)
