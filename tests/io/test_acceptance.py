"""Header acceptance: what a chest radiograph's header may say, and the reason when it says otherwise."""

from __future__ import annotations

import pytest

from cxr_miliary.io.acceptance import check_header


@pytest.mark.parametrize(
    "kw, code",
    [
        ({"modality": "CT"}, "modality"),
        ({"body_part": "HAND"}, "body-part"),
        ({"view": "LL"}, "lateral-view"),
        ({"presentation_intent": "FOR PROCESSING"}, "for-processing"),
        ({"samples_per_pixel": 3}, "multi-sample"),
        ({"frames": 4}, "multi-frame"),
    ],
)
def test_each_rule_refuses_with_its_code(kw, code):
    v = check_header(**{"modality": "DX", "body_part": "CHEST", "view": "PA", **kw})
    assert [c for c, _ in v.rejections] == [code]


def test_a_good_header_passes_and_missing_tags_are_warnings():
    assert not check_header(modality="cr", body_part=" Chest ", view="ap").rejections
    v = check_header()
    assert not v.rejections and len(v.warnings) == 3
    assert check_header(modality="CT", is_dicom=False).rejections == []  # a PNG carries no such tags
    assert not check_header(modality="DX", body_part="THORAX UPPER", view="PA").rejections
