"""One wording per verdict: codes from reasons, the NOT RELIABLE line, the overlay caption."""

from __future__ import annotations

from cxr_miliary import verdicts


def test_reasons_carry_their_code_and_the_unreliable_line_says_why():
    r = verdicts.reason("synthetic-model", "a phantom model on a real film")
    assert verdicts.code_of(r) == "synthetic-model" and verdicts.code_of("no colon") == "no colon"
    line = verdicts.unreliable_sentence(["synthetic-model", "no-reference"])
    assert line.startswith("NOT RELIABLE: this model was trained only on synthetic phantoms") and "face value" in line
    # the integrity record says it as well: reasons, and out of distribution without a reason
    assert verdicts.integrity_codes({"reasons": [r], "in_distribution": False}) == ["synthetic-model", "out-of-distribution"]
    assert verdicts.unreliable_sentence({"reasons": [], "in_distribution": False}) == verdicts.unreliable_sentence(["out-of-distribution"])


def test_the_caption_leads_with_not_reliable_only_when_it_is_not():
    ok = verdicts.caption(0.91, True, "diffuse-bilateral", [])
    bad = verdicts.caption(0.91, True, "diffuse-bilateral", ["orientation"])
    assert "NOT RELIABLE" not in ok and "0.91" in ok
    assert bad.startswith("NOT RELIABLE") and "not upright" in bad
