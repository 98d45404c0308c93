"""``bench sizes``: the same phantoms at each size, one row of figures per size."""

from __future__ import annotations

from cxr_miliary.cli.main import main


def test_bench_sizes_reports_a_row_per_size(tiny_bundle, tmp_path, capsys):
    out = tmp_path / "f.json"
    argv = ["--quiet", "bench", "sizes", "--weights", str(tiny_bundle), "--n", "6", "--sizes", "192,256", "--seed", "3", "--json", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "192 px" in text and "256 px" in text
    import json

    res = json.loads(out.read_text())
    rows = res["by_size"]
    assert set(rows) == {"192 px", "256 px"} and all(r["images"] == 6 for r in rows.values()) and res["framing"] == "phantom"


def test_bench_sizes_frames_the_phantoms_as_real_films_when_asked(tiny_bundle, tmp_path, capsys, monkeypatch):
    import pandas as pd

    import cxr_miliary.phantom as phantom

    real, rendered = phantom.generate_phantoms, []

    def spy(*args, **kwargs):  # the films the bench scores, as written
        manifest = real(*args, **kwargs)
        rendered.append(pd.read_csv(manifest))
        return manifest

    monkeypatch.setattr(phantom, "generate_phantoms", spy)
    out = tmp_path / "f.json"
    argv = [
        "--quiet",
        "bench",
        "sizes",
        "--weights",
        str(tiny_bundle),
        "--n",
        "4",
        "--sizes",
        "192",
        "--seed",
        "3",
        "--framing",
        "tight",
        "--json",
        str(out),
    ]
    assert main(argv) == 0
    import json

    res = json.loads(out.read_text())
    assert res["framing"] == "tight" and res["by_size"]["192 px"]["images"] == 4 and "tight framing" in capsys.readouterr().out
    assert len(rendered) == 1 and list(rendered[0]["framing"]) == ["tight"] * 4  # the films scored were framed tight
