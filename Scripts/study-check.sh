#!/usr/bin/env bash
# `make study-check`: runs the example study (Examples/LayerStudy) on a small layer of the bundled
# model and checks what it wrote; validates its notebook too when the notebook-check venv exists.
set -euo pipefail
bin=${1:?usage: study-check.sh path/to/LayerStudy}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" --layer '#4' --top 2 --out "$work/study" > "$work/run.txt"
fail() { echo "study-check: FAILED — $1"; cat "$work/run.txt"; exit 1; }
[ -s "$work/study/report.md" ] || fail "no report.md"
rows=$(grep -cE '^\| [0-9]+ \| [0-9]+ \|' "$work/study/report.md" || true)
[ "$rows" = 16 ] || fail "report.md ranks $rows channels, expected the 16 of layer #4"
[ "$(ls "$work/study/compare/"*_panel.png | wc -l)" = 2 ] || fail "expected 2 comparison panels"
for f in rule-similarity.npy max-activation.npy notebook.ipynb compare/manifest.json; do [ -s "$work/study/$f" ] || fail "no $f"; done
venv=${NB_VENV:-$root/.venv-notebook}
if [ -x "$venv/bin/python" ]; then
  PATH="$venv/bin:$PATH" MPLBACKEND=Agg "$venv/bin/python" "$root/Scripts/check_notebooks.py" --work "$work" \
    --execute "$work/study/notebook.ipynb" "$work/study/notebook.ipynb" | sed 's/^notebook-check/study-check/'
fi
echo "study-check: the study ranked 16 channels of #4 × 3 rules and wrote its report, panels and notebook"
