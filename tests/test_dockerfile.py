"""The Dockerfile stays conventional and installs the package the way the README does."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_install_matches_package_install():
    text = (ROOT / "Dockerfile").read_text()
    readme = (ROOT / "README.md").read_text()
    run = " ".join(line for line in text.splitlines() if line.startswith("RUN") or line.startswith("    "))
    assert re.search(r'pip install (--extra-index-url \S+ )?"?\.(\[pacs\])?"?(\s|$)', run), run
    assert "pip install ." in readme  # the README's own install command
    assert 'ENTRYPOINT ["cxr-miliary"]' in text and "COPY weights" in text
    user = [line for line in text.splitlines() if line.startswith("USER")]
    assert user and user[-1].split()[1] not in ("root", "0")
    assert "ARG TORCH_INDEX" in text  # the GPU variant is a build argument
    stages = re.findall(r"^FROM \S+ AS (\w+)", text, flags=re.MULTILINE)
    assert stages[-1] == "runtime" and "torch" in stages  # the default image is the torch-free one
    assert 'pip install --extra-index-url "${TORCH_INDEX}" ".[torch]"' in text


def test_hadolint_clean():
    exe = shutil.which("hadolint") or str(Path(__import__("sys").executable).parent / "hadolint")
    if not Path(exe).exists():
        import pytest

        pytest.skip("hadolint not installed")
    res = subprocess.run([exe, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
