"""The evaluation report renders in a real browser."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from cxr_miliary.bench.review import FLAGS


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian chromium not installed (.ci/run installs it)")
def test_report_renders_in_headless_chromium(evaluated, tmp_path):
    flags = [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]  # the review page's harness flags
    url = (evaluated / "report.html").resolve().as_uri()
    dom = subprocess.run(["chromium", *flags, "--virtual-time-budget=5000", "--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert 'data-images-ok="true"' in dom.stdout, dom.stderr[-2000:]
    count = int(dom.stdout.split('data-image-count="')[1].split('"')[0])
    assert count >= 4
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1200,2400", url], capture_output=True, timeout=120)
    with Image.open(shot) as img:
        arr = np.asarray(img.convert("L"))
    assert arr.std() > 10  # a rendered page, not a blank canvas
