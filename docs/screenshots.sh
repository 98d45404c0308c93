#!/usr/bin/env bash
# Draws docs/review.png and docs/status.png from real runs (make screenshots).
#   review: phantoms at two sizes, the real CR in ../shared/reference/real (when there), one
#           file that is not an image; score --cam-dir --review; Chromium draws the page.
#   status: serve with DCMTK's storescp as the PACS; films sent with storescu; the PACS is
#           then stopped and two more films sent, so the page shows results waiting.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cli="$here/.venv/bin/cxr-miliary"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
shot() {  # url png width height [chromium flags]: the status page refreshes itself, so it gets no virtual time
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile" \
    --window-size="$3,$4" --screenshot="$2" "${@:5}" "$1" 2>/dev/null
}

mkdir -p "$work/films"
"$cli" --quiet phantom --n 14 --size 1024 --seed 4242 --out "$work/ph1"
"$cli" --quiet phantom --n 6 --size 2048 --seed 4243 --format dcm --out "$work/ph2"
cp "$work"/ph1/images/* "$work"/ph2/images/* "$work/films/"
real="$here/../shared/reference/real/CR-MONO1-10-chest.dcm"
[ -f "$real" ] && cp "$real" "$work/films/real_cr.dcm"
printf 'not a film' > "$work/films/broken.png"
"$cli" --quiet score "$work/films" --out "$work/results.csv" --cam-dir "$work/maps" --review "$work/review.html" || true
shot "file://$work/review.html" "$here/docs/review.png" 1400 820 --virtual-time-budget=8000

port=$((20000 + RANDOM % 20000)); pacs=$((port + 1)); web=$((port + 2))
mkdir -p "$work/pacs"
storescp -aet PACS -od "$work/pacs" "$pacs" & scp=$!
"$cli" --quiet serve --port "$port" --out "$work/node" --dest "127.0.0.1:$pacs:PACS" --status-port "$web" & node=$!
until curl -sf "http://127.0.0.1:$web/status.json" >/dev/null; do sleep 1; done
sleep 5
storescu -aec CXR-MILIARY 127.0.0.1 "$port" "$work"/ph2/images/*.dcm
status() { curl -sf "http://127.0.0.1:$web/status.json" || true; }  # whole, then grep (grep -q would cut curl off)
until status | grep '"objects_delivered": 12' >/dev/null; do sleep 2; done
kill "$scp"; wait "$scp" 2>/dev/null || true
"$cli" --quiet phantom --n 2 --size 1024 --seed 4244 --format dcm --out "$work/ph3"
storescu -aec CXR-MILIARY 127.0.0.1 "$port" "$work"/ph3/images/*.dcm
until status | grep '"reachable": false' >/dev/null; do sleep 2; done
sleep 3  # between two tries, so the page shows when the next one is
shot "http://127.0.0.1:$web/" "$here/docs/status.png" 1100 900
kill "$node"; wait "$node" 2>/dev/null || true
echo "docs/review.png docs/status.png drawn"
