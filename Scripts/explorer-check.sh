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
. "$root/Scripts/check-venv.sh"
check_venv explorer-check "$venv" "$req" selenium "Selenium"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/Sources/ConvLens/Resources/images/coffee.png" "$work/upload.png"
"$venv/bin/python" "$root/Scripts/check_explorer.py" "$bin" "$work"
