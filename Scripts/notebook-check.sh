#!/usr/bin/env bash
# `make notebook-check`: writes a notebook with the built convlens, then validates it and every
# notebook in Notebooks-export/ with nbformat.validate, renders each with `jupyter nbconvert --to
# html`, and executes the fresh one with `jupyter nbconvert --execute` (its last cell reloads every
# array and checks the shapes in manifest.json) — Scripts/check_notebooks.py, in a venv with the
# pinned packages of Scripts/notebook-check-requirements.txt. Skips (exit 0, with a clear message)
# when the venv cannot be made because python3-venv is missing or PyPI is unreachable.
set -euo pipefail
bin=${1:?usage: notebook-check.sh path/to/convlens}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${NB_VENV:-$root/.venv-notebook}
req=$root/Scripts/notebook-check-requirements.txt

. "$root/Scripts/check-venv.sh"
check_venv notebook-check "$venv" "$req" nbformat "nbformat/nbconvert"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" notebook --layer '#65' --strongest 2 --sections filters,activations,projections,compare --out "$work/fresh" > "$work/run.txt"
grep -q "notebook.ipynb" "$work/run.txt" || { echo "notebook-check: FAILED — convlens notebook printed:"; cat "$work/run.txt"; exit 1; }
# The opt-in sections (activation maximization, Grad-CAM, occlusion), few steps.
"$bin" notebook --layer '#20' --strongest 2 --sections optimize,gradcam,occlusion --optimize-steps 16 --out "$work/views" > "$work/run.txt"
grep -q "notebook.ipynb" "$work/run.txt" || { echo "notebook-check: FAILED — convlens notebook printed:"; cat "$work/run.txt"; exit 1; }
exported=$root/Notebooks-export/a-filters-activations/notebook.ipynb
PATH="$venv/bin:$PATH" MPLBACKEND=Agg "$venv/bin/python" "$root/Scripts/check_notebooks.py" --work "$work" --execute "$work/fresh/notebook.ipynb" --execute "$work/views/notebook.ipynb" \
  $([ -f "$exported" ] && echo "--execute $exported") \
  "$work/fresh/notebook.ipynb" "$work/views/notebook.ipynb" $(ls "$root"/Notebooks-export/*/notebook.ipynb 2>/dev/null)
