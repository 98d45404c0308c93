"""The lung bench: outlines given as mask images, per-condition IoU, summaries."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cxr_miliary.bench.lungs import _summary, condition_bench, mask_file, real_truth


def test_a_combined_mask_is_split_into_lungs_by_side_and_two_levels_are_sides(tmp_path):
    m = np.zeros((40, 60), np.uint8)
    m[5:35, 5:25] = 255
    m[5:35, 35:55] = 255
    Image.fromarray(m).save(tmp_path / "one.png")
    sides = mask_file(str(tmp_path / "one.png"), (80, 120))  # resized to the film
    assert set(np.unique(sides)) == {0, 1, 2} and sides[40, 20] == 1 and sides[40, 100] == 2
    m2 = m.copy()
    m2[:, 30:] //= 2  # the image-right lung at another level
    Image.fromarray(m2).save(tmp_path / "two.png")
    assert set(np.unique(mask_file(str(tmp_path / "two.png"), (40, 60)))) == {0, 1, 2}
    name, truth = real_truth(f"{tmp_path / 'film.dcm'}={tmp_path / 'one.png'}", (40, 60))
    assert name == "film.dcm" and truth is not None and (truth > 0).sum() == (m > 0).sum()
    assert real_truth(str(tmp_path / "unknown.dcm"), (40, 60))[1] is None


def test_condition_bench_measures_each_condition():
    out = condition_bench(1, (192,), seed=5, conditions=("normal", "effusion"), log=lambda *_: None)
    assert set(out["iou"]) == {"normal", "effusion"} and 0.5 < out["iou"]["normal"]["192"]["mean"] <= 1.0
    region = out["region"]["normal"]["192"]
    assert 0.9 <= region["kept"]["min"] <= 1.0 and region["no_box"] == 0 and 0.4 < region["mm_per_px_512"] < 430 / 512
    assert out["no_field"] == {"normal": {"192": 0}, "effusion": {"192": 0}} and out["pattern"] == "normal"
    assert _summary([0.8, 1.0])["below_0.9"] == 0.5


def test_condition_bench_draws_the_phantom_commands_patterns_when_asked():
    from cxr_miliary.phantom import render_phantom

    # seed 8's first phantom draws a miliary pattern: "drawn" renders it, "normal" leaves its lungs clear
    assert render_phantom(8, 0, 192).record["pattern"] == "miliary"
    out = condition_bench(1, (192,), seed=8, conditions=("normal",), log=lambda *_: None, pattern="drawn")
    assert out["pattern"] == "drawn" and out["patterns"] == {"miliary": 1} and 0.5 < out["iou"]["normal"]["192"]["mean"] <= 1.0
    assert condition_bench(1, (192,), seed=8, conditions=("normal",), log=lambda *_: None)["patterns"] == {"normal": 1}
    with pytest.raises(ValueError, match="pattern"):
        condition_bench(1, (192,), pattern="miliary", log=lambda *_: None)


def test_condition_bench_frames_the_phantoms_as_real_films_when_asked():
    """Tight framing: the lung box fills more of the film, so a 512-px input of it spans more millimetres (what the lung-region input must plan for)."""
    loose = condition_bench(2, (192,), seed=5, conditions=("normal",), log=lambda *_: None)
    tight = condition_bench(2, (192,), seed=5, conditions=("normal",), log=lambda *_: None, framing="tight")
    assert tight["framing"] == "tight" and loose["framing"] == "phantom"
    assert tight["region"]["normal"]["192"]["mm_per_px_512"] > loose["region"]["normal"]["192"]["mm_per_px_512"] + 0.03
    assert 0.5 < tight["iou"]["normal"]["192"]["mean"] <= 1.0 and tight["no_field"]["normal"]["192"] == 0


def test_air_space_disease_drawn_into_an_outlined_film_is_measured_per_condition(tmp_path, capsys):
    """``bench lungs --real FILM=MASK --opacities N``: every air-space condition N times on the film's own anatomy, its outline the truth."""
    import json

    from cxr_miliary.cli.main import main
    from cxr_miliary.phantom import render_phantom
    from cxr_miliary.phantom.airspace_insertion import OPACITIES

    ph = render_phantom(44, 1, 384, pattern="normal")  # stands in for a real film with a published mask
    Image.fromarray((ph.display * 65535).astype(np.uint16)).save(tmp_path / "film.png")
    Image.fromarray(np.where(ph.lung_side == 1, 128, np.where(ph.lung_side == 2, 255, 0)).astype(np.uint8)).save(tmp_path / "mask.png")
    out = tmp_path / "lungs.json"
    spec = f"{tmp_path / 'film.png'}={tmp_path / 'mask.png'}"
    assert main(["bench", "lungs", "--n", "1", "--size", "256", "--real", spec, "--opacities", "2", "--json", str(out)]) == 0
    res = json.loads(out.read_text())["real_opacified"]["film.png"]
    assert set(res) == set(OPACITIES)
    clear = json.loads(out.read_text())["real"]["film.png"]["learned"]["iou"]
    for cond, row in res.items():
        iou = row["learned"]["iou"]
        assert 0.6 < iou["min"] <= iou["mean"] <= 1.0 and row["learned"]["worse_lung_iou"] <= iou["mean"] + 0.02, (cond, row)
    assert res["white-out"]["learned"]["iou"]["mean"] < clear  # a white hemithorax is harder than the clear film
    for row in res.values():  # the frontal-chest check on every drawn film: counted, never lost
        check = row["chest_check"]
        assert 0 <= check["whole"] <= check["accepted"] and check["accepted"] + sum(check["refused"].values()) == 2
    assert res["haze"]["chest_check"]["accepted"] == 2  # a hazy chest film is a chest film
    printed = capsys.readouterr().out
    assert "air-space disease and devices drawn in (2 each)" in printed and "frontal-chest check accepts: consolidation" in printed


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
