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

if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "tensorboard-check: SKIPPED — 'python3 -m venv' does not work here (Debian: apt-get install python3-venv)"
    exit 0
  fi
  if ! "$venv/bin/pip" install -q --disable-pip-version-check --timeout 20 --retries 1 -r "$req"; then
    rm -rf "$venv"
    if ! python3 -c "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/tensorboard/', timeout=15)" >/dev/null 2>&1; then
      echo "tensorboard-check: SKIPPED — PyPI is unreachable, so the pinned tensorboard cannot be installed"
      exit 0
    fi
    echo "tensorboard-check: FAILED — pip could not install $(grep -v '^#' "$req" | tr '\n' ' ')"
    exit 1
  fi
  cp "$req" "$venv/requirements.txt"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" tensorboard --logdir "$work/logs" --layer '#0' --layer '#94' --layer '#99' --step 3 --max-outputs 4 > "$work/run1.txt"
grep -q "^  tensorboard --logdir $work/logs\$" "$work/run1.txt" || { echo "tensorboard-check: FAILED — no 'tensorboard --logdir' line:"; cat "$work/run1.txt"; exit 1; }
"$bin" tensorboard --logdir "$work/logs" --layer '#0' --step 7 --max-outputs 4 > "$work/run2.txt"
"$venv/bin/python" "$root/Scripts/check_tensorboard.py" "$work/logs"
