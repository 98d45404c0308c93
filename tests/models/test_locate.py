"""Finding the default bundle: the environment variable wins and never falls back on a typo."""

from __future__ import annotations

import pytest

from cxr_miliary.models.locate import ENV, default_bundle_candidates, find_default_bundle


def test_the_variable_names_the_bundle_and_a_typo_is_an_error(tmp_path, monkeypatch):
    bundle = tmp_path / "mine"
    bundle.mkdir()
    (bundle / "card.json").write_text("{}")
    monkeypatch.setenv(ENV, str(bundle))
    assert find_default_bundle() == bundle
    monkeypatch.setenv(ENV, str(tmp_path / "typo"))
    assert default_bundle_candidates() == [tmp_path / "typo"]  # nothing else is searched
    with pytest.raises(FileNotFoundError, match="named by"):
        find_default_bundle()
    monkeypatch.delenv(ENV)
    assert (find_default_bundle("lungs") / "card.json").is_file()  # the shipped lung bundle
