"""``cxr-miliary review``: a page from score's table; usage errors in one line."""

from __future__ import annotations

from cxr_miliary.cli.main import main


def test_review_writes_a_page_and_refuses_what_it_cannot_read(tiny_bundle, phantom_dir, tmp_path, capsys):
    table = tmp_path / "s.jsonl"
    assert main(["--quiet", "score", str(phantom_dir / "images"), "--weights", str(tiny_bundle), "--out", str(table), "--workers", "0"]) == 0
    assert main(["--quiet", "review", str(table), "--out", str(tmp_path / "r.html"), "--no-images"]) == 0
    html = (tmp_path / "r.html").read_text()
    assert "ph0021_000000" in html and not (tmp_path / "r_files").exists()
    assert "8 films" in capsys.readouterr().err
    assert main(["review", str(tmp_path / "nothing.csv"), "--out", str(tmp_path / "x.html")]) == 2
    assert main(["review", str(table), "--out", str(tmp_path / "x.txt")]) == 2
    err = capsys.readouterr().err
    assert "nothing.csv: no such results file" in err and "must be an .html file" in err and "Traceback" not in err


def test_score_review_writes_the_page_after_the_table(tiny_bundle, phantom_dir, tmp_path, capsys):
    out = tmp_path / "s.csv"
    argv = ["--quiet", "score", str(phantom_dir / "images"), "--weights", str(tiny_bundle), "--out", str(out), "--workers", "0"]
    assert main([*argv, "--cam-dir", str(tmp_path / "cams"), "--review", str(tmp_path / "r.html")]) == 0
    assert len(list((tmp_path / "r_files").glob("t*.jpg"))) == 8  # a thumbnail per film, from its overlay
    assert main([*argv, "--force", "--review", str(tmp_path / "r.pdf")]) == 2
    assert "--review must be an .html file" in capsys.readouterr().err
