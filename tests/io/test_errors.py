"""Image errors carry a stable code and a reason, and name the file."""

from __future__ import annotations

from cxr_miliary.io import ImageError, RejectedImageError, UnreadableImageError


def test_errors_name_the_file_and_keep_code_and_reason_apart():
    e = RejectedImageError("a.dcm", "lateral-view", "view LL is a lateral projection")
    assert isinstance(e, ImageError) and e.kind == "rejected" and e.code == "lateral-view"
    assert str(e) == "a.dcm: view LL is a lateral projection"
    assert UnreadableImageError("b.png", "truncated", "the file ends early").kind == "unreadable"
