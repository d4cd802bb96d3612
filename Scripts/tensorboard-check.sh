#!/usr/bin/env bash
# `make tensorboard-check`: writes event files with the built convlens and reads them back with
# TensorBoard's own EventAccumulator (Scripts/check_tensorboard.py), in a venv with the pinned
# packages of Scripts/tensorboard-check-requirements.txt. Skips (exit 0, with a clear message)
# when the venv cannot be made because python3-venv is missing or PyPI is unreachable.
set -euo pipefail
bin=${1:?usage: tensorboard-check.sh path/to/convlens}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${TB_VENV:-$root/.venv-tensorboard}
req=$root/Scripts/tensorboard-check-requirements.txt

. "$root/Scripts/check-venv.sh"
check_venv tensorboard-check "$venv" "$req" tensorboard "tensorboard"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" tensorboard --logdir "$work/logs" --layer '#0' --layer '#94' --layer '#99' --step 3 --max-outputs 4 > "$work/run1.txt"
grep -q "^  tensorboard --logdir $work/logs\$" "$work/run1.txt" || { echo "tensorboard-check: FAILED — no 'tensorboard --logdir' line:"; cat "$work/run1.txt"; exit 1; }
"$bin" tensorboard --logdir "$work/logs" --layer '#0' --step 7 --max-outputs 4 > "$work/run2.txt"
"$venv/bin/python" "$root/Scripts/check_tensorboard.py" "$work/logs"
