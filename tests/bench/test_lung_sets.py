"""Lung fields on whole outlined sets of real films (``bench lungs --real-set``)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cxr_miliary.bench.lung_sets import REAL_FILM_BAR, set_summary


def test_the_summary_counts_films_under_the_bar_and_skips_films_not_read():
    films = [{"learned": {"iou": v}} for v in (0.91, 0.79, 0.85, REAL_FILM_BAR)] + [{"path": "x.png", "error": "OSError: gone"}]
    s = set_summary(films, "learned")
    assert s["n"] == 4 and s["under_bar"] == 1 and s["min"] == 0.79  # 0.80 itself meets the bar
    assert s["mean"] == pytest.approx((0.91 + 0.79 + 0.85 + 0.80) / 4)
    assert set_summary([{"path": "x.png", "error": "gone"}], "learned") == {"n": 0}


def test_a_whole_outlined_set_is_measured_film_by_film_and_a_bad_row_is_one_error(tmp_path, capsys):
    """``bench lungs --real-set MANIFEST``: every outlined film of a lung manifest, by source; a missing film is an error row, the rest measured."""
    import json

    import pandas as pd

    from cxr_miliary.cli.main import main
    from cxr_miliary.phantom import render_phantom

    rows = []
    for i in range(2):  # stand in for Montgomery films: one mask per lung, the patient's sides
        ph = render_phantom(45, i, 320, pattern="normal")
        Image.fromarray((ph.display * 65535).astype(np.uint16)).save(tmp_path / f"m{i}.png")
        for side, name in ((1, "right"), (2, "left")):  # the patient's right lung is on the image's left
            Image.fromarray(np.where(ph.lung_side == side, 255, 0).astype(np.uint8)).save(tmp_path / f"m{i}_{name}.png")
        rows.append(
            {"path": tmp_path / f"m{i}.png", "mask_image_left": tmp_path / f"m{i}_right.png", "mask_image_right": tmp_path / f"m{i}_left.png"}
        )
    rows.append({"path": tmp_path / "gone.png", "mask_image_left": tmp_path / "m0_right.png", "mask_image_right": tmp_path / "m0_left.png"})
    df = pd.DataFrame(rows).assign(mask="", split=["test", "test", "test"], patient_id=["a", "b", "c"], source="montgomery")
    df.loc[1, "split"] = "train"
    manifest = tmp_path / "montgomery.csv"
    df.to_csv(manifest, index=False)
    out = tmp_path / "set.json"
    assert main(["bench", "lungs", "--real-set", str(manifest), "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert "phantom" in res and not res["phantom"]  # a real set alone: no phantoms
    (s,) = res["real_sets"]
    assert s["errors"] == 1 and len(s["films"]) == 3
    bad = next(f for f in s["films"] if "error" in f)
    assert bad["path"].endswith("gone.png") and "gone.png" in bad["error"]
    good = [f for f in s["films"] if "error" not in f]
    for f in good:
        assert 0.85 < f["learned"]["iou"] <= 1.0 and f["learned"]["side_iou"] > 0.8 and f["chest_check"] == "accepted"
    summary = s["by_source"]["montgomery"]
    assert summary["learned"]["n"] == 2 and summary["learned"]["under_bar"] == 0
    assert summary["learned"]["min"] == pytest.approx(min(f["learned"]["iou"] for f in good))
    assert summary["classical"]["mean"] < summary["learned"]["mean"]
    printed = capsys.readouterr().out
    assert "gone.png: not measured" in printed and "0 of 2 under 0.80" in printed
    assert main(["bench", "lungs", "--real-set", str(manifest), "--real-split", "train", "--opacities", "1", "--json", str(out)]) == 0
    (s,) = json.loads(out.read_text())["real_sets"]
    assert [f["path"].endswith("m1.png") for f in s["films"]] == [True] and s["errors"] == 0
    from cxr_miliary.phantom.airspace_insertion import OPACITIES

    assert set(s["opacified"]) == set(OPACITIES)  # white lungs drawn into the set's own anatomy, per condition
    for row in s["opacified"].values():
        assert row["drawn"] == 1 and 0.5 < row["worst"] <= row["mean"] <= 1.0 and 0 <= row["accepted"] <= 1


def test_a_hand_made_manifest_with_one_mask_column_is_read_and_a_wrong_one_is_refused_by_name(tmp_path, capsys):
    """path + mask (one combined mask, as Shenzhen's) is enough; a missing file or missing columns is a usage error naming the file."""
    import json

    import pandas as pd

    from cxr_miliary.cli.main import main
    from cxr_miliary.phantom import render_phantom

    ph = render_phantom(46, 0, 320, pattern="normal")
    Image.fromarray((ph.display * 65535).astype(np.uint16)).save(tmp_path / "s.png")
    Image.fromarray(np.where(ph.lung_side > 0, 255, 0).astype(np.uint8)).save(tmp_path / "s_mask.png")
    pd.DataFrame({"path": [tmp_path / "s.png"], "mask": [tmp_path / "s_mask.png"]}).to_csv(tmp_path / "mine.csv", index=False)
    out = tmp_path / "o.json"
    assert main(["bench", "lungs", "--real-set", str(tmp_path / "mine.csv"), "--json", str(out)]) == 0
    (s,) = json.loads(out.read_text())["real_sets"]
    assert s["errors"] == 0 and s["films"][0]["learned"]["iou"] > 0.85 and s["films"][0]["learned"]["side_iou"] > 0.8
    capsys.readouterr()
    assert main(["bench", "lungs", "--real-set", str(tmp_path / "nowhere.csv")]) == 2
    assert "nowhere.csv: no such lung manifest" in capsys.readouterr().err
    pd.DataFrame({"path": ["a.png"]}).to_csv(tmp_path / "nomask.csv", index=False)
    assert main(["bench", "lungs", "--real-set", str(tmp_path / "nomask.csv"), "--real-split", "test"]) == 2
    err = capsys.readouterr().err
    assert "nomask.csv: not a lung manifest" in err and "mask" in err and "split" in err
