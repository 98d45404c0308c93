"""The lung bench: outlines given as mask images, per-condition IoU, summaries."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cxr_miliary.bench.lungs import _summary, base_gap, condition_bench, mask_file, real_truth


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
    base = out["base"]["normal"]["192"]
    assert -0.2 < base["min"] <= base["mean"] <= base["max"] < 0.2  # clear lungs: the base found within a fifth of the height


def test_the_base_gap_is_the_lower_edge_of_the_lung_further_off_in_share_of_the_lungs_height():
    truth = np.zeros((120, 100), np.int8)
    truth[10:91, 10:45] = 1  # image-left lung: rows 10-90
    truth[10:111, 55:90] = 2  # image-right lung: rows 10-110, so the lungs are 101 rows tall
    truth[111:113, 88:90] = 2  # and a thin costophrenic tip two rows lower at its lateral edge
    found = truth.copy()
    found[71:] = np.where(found[71:] == 1, 0, found[71:])  # the image-left field stops 20 rows short
    found[111:116, 55:85] = 2  # the image-right one runs on 5 rows below its base,
    found[111:113, 88:90] = 0  # without the tip
    assert base_gap(found, truth) == pytest.approx(-20 / 103)
    assert base_gap(truth, truth) == 0.0
    right = found.copy()
    right[truth == 1] = 1  # the image-left field right: the other lung is the one further off
    assert base_gap(right, truth) == pytest.approx((30 * 5 + 3 * 0 + 2 * -2) / 35 / 103)
    assert base_gap(np.where(found == 1, 0, found), truth) == -1.0  # a lung with no field at all
    joint = (truth > 0).astype(np.int8)  # no sides (the classical estimate): the lungs as one
    assert base_gap((right > 0).astype(np.int8), joint) == pytest.approx((35 * 0 + 30 * 5 + 3 * 0 + 2 * -2) / 70 / 103)
    assert base_gap(None, truth) is None and base_gap(found, np.zeros_like(truth)) is None


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
