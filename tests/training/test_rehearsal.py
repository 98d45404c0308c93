"""Rehearsals of the real-data path on trees laid out as the datasets publish them.

PadChest (the label table's columns and value formats, 16-bit PNGs with 12 significant
bits under ``<root>/<ImageDir>/<ImageID>``), NIH ChestX-ray14 (``images_*/images/*.png``,
``Data_Entry_2017.csv``) and a local CSV, each run through the real commands on the real
config files, overriding only what a 2-core CPU needs. ``make rehearsal`` runs these alone.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cxr_miliary.cli.main import main
from cxr_miliary.phantom import generate_phantoms

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.rehearsal]

# what a CPU needs; everything else comes from the config file as shipped
CPU = [
    "--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.precision", "32-true",
    "--trainer.max_epochs", "2", "--trainer.enable_progress_bar", "false",
    "--model.backbone", "test_resnet", "--model.pretrained", "false",
    "--data.image_size", "96", "--data.batch_size", "4", "--data.num_workers", "0",
]  # fmt: skip


def _twelve_bit(src: Path, dst: Path, eight_bit: bool = False) -> None:
    """A phantom PNG re-stored as PadChest stores images (16-bit, 12 significant bits) or NIH's (8-bit)."""
    arr = np.asarray(Image.open(src)).astype(np.float64)
    arr = arr / max(float(arr.max()), 1.0)
    dst.parent.mkdir(parents=True, exist_ok=True)
    if eight_bit:
        Image.fromarray(np.round(arr * 255).astype(np.uint8)).save(dst)
    else:
        Image.fromarray(np.round(arr * 4095).astype(np.uint16)).save(dst)


def _phantoms(tmp: Path, n: int, seed: int) -> pd.DataFrame:
    man = generate_phantoms(n, tmp / "ph", seed=seed, size=256, positive_fraction=0.5)
    df = pd.read_csv(man)
    df["src"] = [tmp / "ph" / p for p in df["path"]]
    return df


def _padchest_row(i: int, image: str, folder: int, patient: str, study: str, projection: str, labels: str, method: str = "Physician") -> str:
    return (
        f"{i},{image},{folder},2014012{i % 10},{study},{patient},1950,M,POSTEROANTERIOR,{projection},Manual review of DICOM fields,No,CR,"
        f'PhilipsMedicalSystems,MONOCHROME2,0,None,0.139,12,2047,4095,2800,2500,None,None,None,None,None,r{i},"texto",'
        f'{method},"{labels}","[]","[]","[]","[]"'
    )


def _padchest_tree(tmp: Path, header: str) -> tuple[Path, Path, dict[str, int]]:
    """40 frontal phantoms labelled as their pattern, plus the rows a real table brings."""
    ph = _phantoms(tmp, 40, seed=31)
    root = tmp / "padchest"
    rows = []
    for i, r in ph.iterrows():
        folder = i % 3
        name = f"img{i:03d}.png"
        _twelve_bit(r["src"], root / str(folder) / name)
        if r["label"]:
            labels = "['miliary opacities']" if r["pattern"] == "miliary" else "[' reticulonodular interstitial pattern ', 'cardiomegaly']"
        else:
            labels = "['normal']" if i % 2 else "['pleural effusion', 'cardiomegaly']"
        patient = "pat00" if i in (0, 1) else f"pat{i:02d}"  # two studies of one patient
        method = "RNN_model" if r["label"] and i % 2 else "Physician"  # as published: most positives labelled by a network reading the report
        rows.append(_padchest_row(i, name, folder, patient, f"st{i}", "PA" if i % 4 else "AP", labels, method))
    extra = len(ph)
    _twelve_bit(ph["src"].iloc[0], root / "0" / "lat0.png")
    rows.append(_padchest_row(extra, "lat0.png", 0, "pat90", "st90", "L", "['normal']"))  # a lateral view
    rows.append(_padchest_row(extra + 1, "lat1.png", 0, "pat91", "st91", "L", "['miliary opacities']"))
    rows.append(_padchest_row(extra + 2, "nolab0.png", 1, "pat92", "st92", "PA", ""))  # labels that do not parse
    rows.append(_padchest_row(extra + 3, "nolab1.png", 1, "pat93", "st93", "PA", "nan"))
    rows.append(_padchest_row(extra + 4, "gone0.png", 2, "pat94", "st94", "PA", "['normal']"))  # missing files
    rows.append(_padchest_row(extra + 5, "gone1.png", 2, "pat95", "st95", "PA", "['normal']"))
    (root / "2" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200)  # a corrupt PNG
    rows.append(_padchest_row(extra + 6, "corrupt.png", 2, "pat96", "st96", "PA", "['normal']"))
    table = tmp / "PADCHEST_chest_x_ray_images_labels_160K_01.02.19.csv"
    table.write_text(header + "\n" + "\n".join(rows) + "\n")
    return table, root, {"frontal": 41, "positives": int(ph["label"].sum())}


def _bundle(run_dir: Path) -> Path:
    found = sorted(run_dir.glob("lightning_logs/version_*/bundle"))
    assert found, f"no bundle under {run_dir}"
    return found[-1]


def test_padchest_rehearsal(tmp_path, padchest_header, capsys):
    table, root, expect = _padchest_tree(tmp_path, padchest_header)
    manifest = tmp_path / "manifest.csv"

    # 1. manifest: frontal rows whose labels parse and whose files exist
    split = ["--ratios", "0.5,0.3,0.2"]  # enough validation images for a reference (10) from a small tree
    assert main(["manifest", "padchest", "--labels", str(table), "--images-root", str(root), "--out", str(manifest), *split]) == 0
    text = capsys.readouterr().out
    assert "dropped 2: no parseable labels" in text and "missing" in text and "view not in" in text
    df = pd.read_csv(manifest)
    assert len(df) == expect["frontal"] and df["label"].sum() == expect["positives"]
    by_split = df.groupby("split")["patient_id"].apply(set)
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split.get("test", set()))
    assert df.groupby("patient_id")["split"].nunique().max() == 1  # the patient with two studies stays in one split

    # 2. prepare: the corrupt PNG is counted, nothing else lost
    cache = tmp_path / "cache"
    assert main(["--quiet", "prepare", "--manifest", str(manifest), "--images-root", str(root), "--size", "128", "--out", str(cache)]) == 1
    index = pd.read_csv(cache / "index.csv")
    assert (index["error"].fillna("") != "").sum() == 1 and len(index) == len(df)

    # 3. fit on the shipped config; ExportBundle writes a calibrated bundle with its reference
    runs = tmp_path / "runs"
    data = ["--data.manifest", str(manifest), "--data.images_root", str(root), "--data.cache_dir", str(cache)]
    assert main(["train", "fit", "--config", str(ROOT / "configs" / "padchest_miliary.yaml"), *CPU, *data,
                 "--trainer.default_root_dir", str(runs)]) in (0, None)  # fmt: skip
    bundle = _bundle(runs)
    card = json.loads((bundle / "card.json").read_text())
    assert card["name"] == "cxr-miliary-padchest" and card["preprocess"]["image_size"] == 96 and card["preprocess"]["channels"] == 3
    assert 0 < card["threshold"] < 1 and card["temperature"] > 0 and "reference" in card
    assert "PadChest" in card["training_data"]["description"] and card["training_data"]["n_train"] > 0
    assert card["training_data"]["domain"] == "real" and card["training_data"]["sources"] == ["padchest"]  # governed by the distance alone

    # 4. evaluate: the report, with the corrupt file an error and not a crash
    ev = tmp_path / "eval"
    assert main(["--quiet", "evaluate", "--manifest", str(manifest), "--images-root", str(root), "--weights", str(bundle),
                 "--out", str(ev), "--bootstrap", "20"]) == 0  # fmt: skip
    metrics = json.loads((ev / "metrics.json").read_text())
    assert metrics["n"] == len(df) - 1 and (ev / "report.html").stat().st_size > 10_000
    # without --images-root nothing is found, and the error says so
    assert main(["--quiet", "evaluate", "--manifest", str(manifest), "--weights", str(bundle), "--out", str(tmp_path / "e2")]) == 2
    assert "no image in the manifest could be read" in capsys.readouterr().err

    # 5. predict and score with the exported bundle
    one = root / "1" / "img001.png"
    out_json = tmp_path / "p.json"
    assert main(["predict", str(one), "--weights", str(bundle), "--json", str(out_json), "--no-cam"]) == 0
    pred = json.loads(out_json.read_text())
    assert 0 <= pred["probability"] <= 1 and pred["model"]["name"] == "cxr-miliary-padchest"
    scores = tmp_path / "scores.csv"
    assert main(["--quiet", "score", str(root), "--weights", str(bundle), "--out", str(scores)]) == 1  # one error row
    rows = pd.read_csv(scores)
    assert len(rows) == 42 and (rows["error"].fillna("") != "").sum() == 1


def test_nih_rehearsal(tmp_path):
    ph = _phantoms(tmp_path, 16, seed=32)
    root = tmp_path / "nih"
    lines = ["Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
             "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],"]  # fmt: skip
    for i, r in ph.iterrows():
        name = f"{i + 1:08d}_000.png"
        _twelve_bit(r["src"], root / f"images_{1 + i // 8:03d}" / "images" / name, eight_bit=True)
        finding = "Nodule|Infiltration" if r["label"] else ("No Finding" if i % 2 else "Cardiomegaly")
        lines.append(f"{name},{finding},0,{i + 1},58,M,{'PA' if i % 3 else 'AP'},1024,1024,0.143,0.143,")
    table = root / "Data_Entry_2017.csv"
    table.write_text("\n".join(lines) + "\n")
    manifest = tmp_path / "manifest.csv"
    assert main(["manifest", "nih", "--labels", str(table), "--positive-labels", "Nodule,Infiltration", "--images-root", str(root),
                 "--out", str(manifest)]) == 0  # fmt: skip
    df = pd.read_csv(manifest)
    assert len(df) == 16 and df["path"].str.startswith("images_00").all()
    runs = tmp_path / "runs"
    assert main(["train", "fit", "--config", str(ROOT / "configs" / "nih_pretrain.yaml"), *CPU, "--data.manifest", str(manifest),
                 "--data.images_root", str(root), "--trainer.default_root_dir", str(runs)]) in (0, None)  # fmt: skip
    card = json.loads((_bundle(runs) / "card.json").read_text())
    assert card["name"] == "cxr-miliary-nih-proxy" and card["threshold_rule"]["rule"] == "youden"


def test_csv_rehearsal(tmp_path):
    ph = _phantoms(tmp_path, 16, seed=33)
    root = tmp_path / "site"
    for p in ph["src"]:
        _twelve_bit(p, root / "films" / p.name)
    table = tmp_path / "site_labels.csv"
    pd.DataFrame({"file": [f"films/{p.name}" for p in ph["src"]], "miliary": ph["label"], "mrn_hash": ph["patient_id"]}).to_csv(table, index=False)
    manifest = tmp_path / "manifest.csv"
    assert main(["manifest", "csv", "--table", str(table), "--path-col", "file", "--label-col", "miliary", "--patient-col", "mrn_hash",
                 "--images-root", str(root), "--out", str(manifest)]) == 0  # fmt: skip
    runs = tmp_path / "runs"
    assert main(["train", "fit", "--config", str(ROOT / "configs" / "csv_example.yaml"), *CPU, "--data.manifest", str(manifest),
                 "--data.images_root", str(root), "--trainer.default_root_dir", str(runs)]) in (0, None)  # fmt: skip
    bundle = _bundle(runs)
    assert json.loads((bundle / "card.json").read_text())["name"] == "cxr-miliary-site"
    assert main(["--quiet", "predict", str(root / "films" / ph["src"].iloc[0].name), "--weights", str(bundle), "--no-cam"]) == 0


def test_padchest_with_insertion_rehearsal(tmp_path, padchest_header):
    """PadChest with on-the-fly insertion (configs/padchest_insert.yaml): the card records it; evaluate tells native from inserted positives."""
    table, root, _ = _padchest_tree(tmp_path, padchest_header)
    manifest = tmp_path / "manifest.csv"
    assert (
        main(
            ["--quiet", "manifest", "padchest", "--labels", str(table), "--images-root", str(root), "--out", str(manifest), "--ratios", "0.5,0.3,0.2"]
        )
        == 0
    )
    runs = tmp_path / "runs"
    configs = ["--config", str(ROOT / "configs" / "padchest_miliary.yaml"), "--config", str(ROOT / "configs" / "padchest_insert.yaml")]
    assert main(["train", "fit", *configs, *CPU, "--trainer.max_epochs", "1", "--data.manifest", str(manifest), "--data.images_root", str(root),
                 "--data.cache_dir", "null", "--data.insertion.fraction", "0.5", "--trainer.default_root_dir", str(runs)]) in (0, None)  # fmt: skip
    bundle = _bundle(runs)
    card = json.loads((bundle / "card.json").read_text())
    assert card["name"] == "cxr-miliary-padchest-insert" and card["training_data"]["insertion"]["fraction"] == 0.5
    assert card["training_data"]["domain"] == "real"
    # a test set of native films and films with inserted patterns, told apart by the manifest
    df = pd.read_csv(manifest)
    test = df[df["split"] == "test"].assign(path=lambda d: [str(root / p) for p in d["path"]], inserted=False)
    negatives = test[test["label"] == 0]["path"].tolist()
    ins = tmp_path / "inserted"
    main(["--quiet", "insert", *negatives, "--out", str(ins), "--tier", "florid", "--force"])
    inserted = pd.read_csv(ins / "manifest.csv").assign(path=lambda d: [str(ins / p) for p in d["path"]], split="test")
    both = tmp_path / "both.csv"
    pd.concat([test, inserted[["path", "label", "patient_id", "split", "inserted"]]]).to_csv(both, index=False)
    ev = tmp_path / "eval"
    assert main(["--quiet", "evaluate", "--manifest", str(both), "--weights", str(bundle), "--out", str(ev), "--bootstrap", "20"]) == 0
    origin = json.loads((ev / "metrics.json").read_text())["auroc_by_origin"]
    assert origin["inserted_positives"] == len(inserted) > 0 and origin["native_positives"] == int(test["label"].sum())


def test_padchest_cv_rehearsal(tmp_path, padchest_header, capsys):
    """#35: cv with 3 folds on the PadChest layout - every train + val row once out of fold, no patient in two folds,
    the ensemble predicts and scores with maps on both runtimes, a killed run resumes without retraining finished folds."""
    from cxr_miliary import Predictor

    table, root, _ = _padchest_tree(tmp_path, padchest_header)
    manifest = tmp_path / "manifest.csv"
    assert (
        main(["manifest", "padchest", "--labels", str(table), "--images-root", str(root), "--out", str(manifest), "--ratios", "0.6,0.25,0.15"]) == 0
    )
    capsys.readouterr()
    cv = tmp_path / "cv"
    argv = ["--quiet", "cv", "--config", str(ROOT / "configs" / "padchest_cv.yaml"), "--folds", "3", "--out", str(cv), *CPU,
            "--trainer.max_epochs", "1", "--data.manifest", str(manifest), "--data.images_root", str(root), "--data.cache_dir", "null"]  # fmt: skip
    assert main(argv) == 0
    assert "3 fold(s) trained now" in capsys.readouterr().out
    df = pd.read_csv(manifest)
    pool = df[df["split"].isin(["train", "val"])]
    oof = pd.read_csv(cv / "oof.csv")
    decodable = pool[~pool["path"].str.endswith("corrupt.png")]
    assert sorted(oof["path"]) == sorted(decodable["path"]) and oof["path"].is_unique  # every row once (the corrupt PNG cannot be)
    assert oof.groupby("patient_id")["fold"].nunique().max() == 1 and set(oof["fold"]) == {0, 1, 2}
    assert set(oof["label_method"]) >= {"Physician"}
    card = json.loads((cv / "ensemble" / "card.json").read_text())
    assert card["ensemble"]["members"] == 3 and len(card["ensemble"]["folds"]) == 3 and card["ensemble"]["cost"]["vs_one_fold"] > 1
    assert card["cam_target_layer"] == "features" and "reference" in card and card["onnx"]["file"] == "model.onnx"
    one = str(root / "1" / "img001.png")
    torch_p = Predictor.load(cv / "ensemble", precision="fp32", backend="torch").predict(one, cam=True, force=True)
    onnx_p = Predictor.load(cv / "ensemble", backend="onnxruntime").predict(one, cam=True, force=True)
    assert abs(torch_p.probability - onnx_p.probability) < 1e-4 and torch_p.cam is not None and onnx_p.cam is not None
    assert np.corrcoef(torch_p.cam.ravel(), onnx_p.cam.ravel())[0, 1] > 0.99 or torch_p.cam.max() == onnx_p.cam.max() == 0
    scores = tmp_path / "s.csv"
    assert main(["--quiet", "score", str(root / "1"), "--weights", str(cv / "ensemble"), "--out", str(scores), "--cam"]) in (0, 1)
    assert pd.read_csv(scores)["pattern"].notna().any()
    # evaluation by label source: all positives, and the physician-labelled ones alone
    ev = tmp_path / "eval"
    assert main(["--quiet", "evaluate", "--manifest", str(manifest), "--images-root", str(root), "--weights", str(cv / "ensemble"),
                 "--out", str(ev), "--bootstrap", "20", "--workers", "0"]) == 0  # fmt: skip
    metrics = json.loads((ev / "metrics.json").read_text())
    by = metrics["by_label_source"]
    assert (
        by["all"]["positives"] > by["physician"]["positives"] > 0
        and by["all"]["n"] - by["all"]["positives"] == by["physician"]["n"] - by["physician"]["positives"]
    )
    assert "physician-labelled only" in (ev / "report.html").read_text() and "label_method" in pd.read_csv(ev / "subgroups.csv")["column"].tolist()
    phys = tmp_path / "eval_phys"
    assert main(["--quiet", "evaluate", "--manifest", str(manifest), "--images-root", str(root), "--weights", str(cv / "ensemble"),
                 "--out", str(phys), "--bootstrap", "20", "--workers", "0", "--positives", "physician"]) == 0  # fmt: skip
    assert json.loads((phys / "metrics.json").read_text())["positives"] == by["physician"]["positives"]
    # killed while fold 2 trained: the finished folds are kept, fold 2 trains again
    (cv / "fold2" / "done.json").unlink()
    assert main(argv) == 0
    assert "1 fold(s) trained now" in capsys.readouterr().out
