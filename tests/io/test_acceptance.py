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


def test_a_secondary_capture_of_a_film_is_left_to_the_pixel_checks():
    sc = "1.2.840.10008.5.1.4.1.1.7"
    v = check_header(modality="OT", sop_class_uid=sc)
    assert not v.rejections and any("secondary capture" in w for w in v.warnings)
    assert [c for c, _ in check_header(modality="CT", sop_class_uid=sc).rejections] == ["modality"]  # a CT screenshot stays refused
    assert [c for c, _ in check_header(modality="OT").rejections] == ["modality"]  # OT is refused outside SC
