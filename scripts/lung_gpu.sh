#!/usr/bin/env bash
# The lung network trained from the start on one GPU, in one call of ten minutes or less:
# render every condition's phantoms on all cores, train (configs/lung_fields_gpu.yaml) for what
# the time left allows, measure the new network against the shipped one on seeds never trained
# on, and leave the bundle and the figures in $OUT. docs/training.md, "The lung network on a
# GPU", says how to carry it to a lent machine (scripts/lung_gpu_pack.sh) and what to do next.
#
# Knobs (environment): OUT (where the bundle and figures go), SCALE (set sizes; 1 = the full
# run of 11,200 films; the smoke run here used 0.002), BUDGET_S (seconds the whole script may take;
# training gets what rendering and measuring leave), EPOCHS (at most), IMG_PER_S (the
# training throughput assumed when choosing the epochs), BENCH_N (films per condition and size
# measured), BENCH_S (seconds kept for measuring), ROOT (the films), PY.
set -euo pipefail
START=$(date +%s)
OUT=${OUT:-runs/lung-gpu-out}
SCALE=${SCALE:-1}
BUDGET_S=${BUDGET_S:-540}
EPOCHS=${EPOCHS:-30}
IMG_PER_S=${IMG_PER_S:-650}
BENCH_N=${BENCH_N:-10}
BENCH_S=${BENCH_S:-150}
ROOT=${ROOT:-.cache/lung-gpu}
PY=${PY:-python3}
WORKERS=$(nproc)
mkdir -p "$OUT" "$ROOT"
cx() { "$PY" -m cxr_miliary "$@"; }
left() { echo $((BUDGET_S - ($(date +%s) - START))); }
n_of() { "$PY" -c "import sys; print(max(2, round(float(sys.argv[1]) * float(sys.argv[2]))))" "$1" "$SCALE"; }

# dir n seed size condition [phantom options]: a phantom set and its lung manifest (made once)
lung_set() {
  local dir=$ROOT/$1 n; n=$(n_of "$2")
  test -e "$dir/manifest.csv" || cx phantom --n "$n" --seed "$3" --size "$4" --condition "$5" "${@:6}" --workers "$WORKERS" --quiet --out "$dir"
  cx manifest phantom-lungs --phantoms "$dir/manifest.csv" --seed "$3" --quiet --out "$dir.csv"
}
# every condition of the eleven CPU stages (Makefile: lung-model), in one set, seeds 31000-32100
lung_set mix512 3000 31000 512 lung-mix
lung_set mix512t 1000 31100 512 lung-mix --framing tight
lung_set mix1024 300 31200 1024 lung-mix
lung_set bil512 1500 31300 512 bilateral-opacities
lung_set bil512t 400 31400 512 bilateral-opacities --framing tight
lung_set white512 600 31500 512 white-out
lung_set ap512 600 31600 512 ap-portable
lung_set heart512 500 31700 512 cardiomegaly
lung_set low512 1000 31800 512 low-volume
lung_set real512t 1500 31900 512 real-lungs --framing tight
lung_set real1024 200 32000 1024 real-lungs
test -e "$ROOT/neg512.csv" || cx manifest lung-negatives --n "$(n_of 600)" --seed 32100 --size 512 --quiet --out "$ROOT/neg512.csv"
"$PY" -c "import sys, pandas as pd; pd.concat(pd.read_csv(f) for f in sys.argv[2:]).to_csv(sys.argv[1], index=False)" \
  "$ROOT/manifest.csv" "$ROOT"/{mix512,mix512t,mix1024,bil512,bil512t,white512,ap512,heart512,low512,real512t,real1024,neg512}.csv
echo "rendered in $(($(date +%s) - START)) s; $(left) s left"

# the epochs the time allows (measuring keeps BENCH_S); max_time stops a slower run all the same
TRAIN_S=$(( $(left) - BENCH_S ))
N_TRAIN=$("$PY" -c "import sys, pandas as pd; print((pd.read_csv(sys.argv[1])['split'] == 'train').sum())" "$ROOT/manifest.csv")
E=$("$PY" -c "import sys; t, n, r, e = map(float, sys.argv[1:]); print(int(max(1, min(e, t * r / max(n, 1) / 1.15))))" "$TRAIN_S" "$N_TRAIN" "$IMG_PER_S" "$EPOCHS")
echo "training $N_TRAIN films for $E epochs (at most $TRAIN_S s)"
RUN=runs/lungs_gpu
cx train-lungs fit --config configs/lung_fields.yaml --config configs/lung_fields_gpu.yaml \
  --data.manifest "$ROOT/manifest.csv" --data.num_workers "$((WORKERS > 2 ? WORKERS - 2 : 1))" \
  --trainer.max_epochs "$E" --trainer.max_time "$("$PY" -c "import sys; t = max(60, int(sys.argv[1])); print(f'00:{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}')" "$TRAIN_S")" \
  --trainer.default_root_dir "$RUN" 2>&1 | tee "$OUT/train.log" || true
BUNDLE=$(ls -d "$RUN"/lightning_logs/version_*/lung_bundle 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$BUNDLE" ]; then
  # the export failed there (another torch's ONNX exporter, say): the trained weights still come
  # back, and models.lung_bundle.save_lung_bundle writes the bundle from them here
  echo "no lung bundle (train.log says why): the best checkpoint's weights come back as model.safetensors"
  "$PY" - "$RUN" "$OUT" <<'PY'
import glob, sys

import torch
from safetensors.torch import save_file

best = sorted(glob.glob(f"{sys.argv[1]}/lightning_logs/version_*/checkpoints/best-*.ckpt"))[-1]
state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]  # this run's own checkpoint
save_file({k.removeprefix("model."): v.contiguous() for k, v in state.items() if k.startswith("model.")}, f"{sys.argv[2]}/model.safetensors")
print("weights of", best)
PY
  exit 1
fi
echo "trained; $(left) s left; bundle $BUNDLE"

# the new network against the shipped one (the network alone, and with its refiner), on seeds
# never trained on: four processes at once (each bundle at each size), one core each
pids=()
for b in "$BUNDLE" weights/lungs; do
  tag=$(basename "$(dirname "$b")")
  for size in 512 1024; do
    CXR_MILIARY_LUNGS=$b cx bench lungs --n "$((BENCH_N * 2))" --size "$size" --conditions --conditions-n "$BENCH_N" --sizes "$size" \
      --seed 33001 --quiet > "$OUT/bench-$tag-$size.txt" 2>&1 &
    pids+=("$!")
  done
done
for p in "${pids[@]}"; do wait "$p" || echo "a bench failed (its file in $OUT says why); the bundle is kept"; done
tar -C "$(dirname "$BUNDLE")" -cf - lung_bundle | split -b 15m - "$OUT/lung_bundle.tar.part-"
echo "done in $(($(date +%s) - START)) s: $OUT"
