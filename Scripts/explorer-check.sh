#!/usr/bin/env bash
# `make explorer-check`: the explorer end to end in headless Chromium (Scripts/check_explorer.py),
# with Selenium from the pinned Scripts/explorer-check-requirements.txt in a venv. Skips (exit 0,
# with a clear message) when Chromium or its driver is not installed, or when the venv cannot be
# made (no python3-venv, PyPI unreachable).
set -euo pipefail
bin=${1:?usage: explorer-check.sh path/to/convlens}
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${EXPLORER_VENV:-$root/.venv-browser}
req=$root/Scripts/explorer-check-requirements.txt

if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "explorer-check: SKIPPED — Chromium is not installed (Debian: apt-get install chromium chromium-driver)"
  exit 0
fi
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$req" "$venv/requirements.txt"; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "explorer-check: SKIPPED — 'python3 -m venv' does not work here (Debian: apt-get install python3-venv)"
    exit 0
  fi
  if ! "$venv/bin/pip" install -q --disable-pip-version-check --timeout 20 --retries 1 -r "$req"; then
    rm -rf "$venv"
    if ! python3 -c "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/selenium/', timeout=15)" >/dev/null 2>&1; then
      echo "explorer-check: SKIPPED — PyPI is unreachable, so the pinned Selenium cannot be installed"
      exit 0
    fi
    echo "explorer-check: FAILED — pip could not install $(grep -v '^#' "$req" | tr '\n' ' ')"
    exit 1
  fi
  cp "$req" "$venv/requirements.txt"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/Sources/ConvLens/Resources/images/coffee.png" "$work/upload.png"
"$venv/bin/python" "$root/Scripts/check_explorer.py" "$bin" "$work"
