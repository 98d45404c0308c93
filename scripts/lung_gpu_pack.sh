#!/usr/bin/env bash
# Packs, here, what a lent GPU machine lacks for scripts/lung_gpu.sh into .gpu/ (ignored by git):
# the wheels of the Python packages its image does not hold (at this environment's versions,
# for its Python 3.12), and TorchXRayVision's 2-MB lung-mask archive alone (the package is 29 MB).
# Then it says how much would travel. docs/training.md, "The lung network on a GPU", has the call.
set -euo pipefail
PY=${PY:-.venv/bin/python}
DEST=.gpu
# the lent image holds torch, timm, lightning, torchmetrics, onnx, opencv, scipy, pandas and the
# rest (/work/.library/device/KINDS.md); these are what the training path imports beyond them
NEED="albumentations albucore stringzilla simsimd pydantic pydantic-core annotated-types typing-inspection
jsonargparse docstring-parser typeshed-client pydicom segmentation-models-pytorch"
mkdir -p "$DEST/whl"
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
for name in $NEED; do
  version=$("$PY" -c "import sys, importlib.metadata as m; print(m.version(sys.argv[1]))" "$name")
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEST/whl" "$name==$version"
done
archive=$("$PY" -c "from cxr_miliary.phantom.real_shapes import archive_path; p = archive_path(); print(p or '')")
test -n "$archive" || { echo "no lung-mask archive here (pip install 'cxr-miliary[txv]')" >&2; exit 1; }
cp "$archive" "$DEST/"
du -sh "$DEST/whl" "$DEST"/*.zip
# what travels: tracked and untracked-but-not-ignored files, and the carried .gpu (64 MiB at most)
tree=$(git ls-files -co --exclude-standard -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
default=$(du -cb weights/default | tail -1 | cut -f1)
gpu=$(du -sb "$DEST" | cut -f1)
echo "would travel: $(( (tree + gpu) / 1048576 )) MiB; without weights/default (not needed there): $(( (tree - default + gpu) / 1048576 )) MiB (limit 64)"
