"""The docs a newcomer walks: a short README whose links work, and every command and public name documented in docs/."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file(page):
    broken = []
    for target in LINK.findall(page.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        if not (page.parent / target).exists():
            broken.append(target)
    assert not broken, f"{page.name}: links to nothing: {broken}"


def test_every_docs_page_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    missing = [p.name for p in (ROOT / "docs").glob("*.md") if f"docs/{p.name}" not in readme]
    assert not missing, missing


def test_every_command_is_in_the_cli_reference():
    from cxr_miliary.cli.main import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    cli = (ROOT / "docs" / "cli.md").read_text()
    missing = [name for name in sub.choices if not re.search(rf"\| `{re.escape(name)}[ `]", cli)]
    assert not missing, f"commands without a row in docs/cli.md: {missing}"


def _public_names() -> list[str]:
    import cxr_miliary
    import cxr_miliary.scoring
    from cxr_miliary import Predictor

    names = [n for n in cxr_miliary.__all__ if not n.startswith("_")]
    names += [f"{n}" for n in cxr_miliary.scoring.__all__ if n[0].isalpha() and n not in ("FLUSH", "WAIT", "Signal")]
    names += [m for m in ("predict", "score", "iter_score", "load", "from_pretrained") if hasattr(Predictor, m)]
    names += ["load_map", "Outputs"]
    return names


def test_every_public_name_is_documented():
    text = "\n".join(p.read_text() for p in PAGES if p.parent.name == "docs")
    missing = [n for n in _public_names() if n not in text]
    assert not missing, f"public names docs/ never mentions: {missing}"
