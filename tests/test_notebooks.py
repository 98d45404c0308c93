"""The notebooks run top to bottom (tiny settings) so they never rot; committed without outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_three_notebooks_without_outputs():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_train_on_padchest.ipynb", "03_batch_scoring.ipynb"]
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            assert not cell.get("outputs"), f"{path.name} committed with outputs"


@pytest.mark.slow
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tiny_bundle, monkeypatch, tmp_path):
    monkeypatch.setenv("CXR_MILIARY_NB_QUICK", "1")
    monkeypatch.setenv("CXR_MILIARY_WEIGHTS", str(tiny_bundle))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
