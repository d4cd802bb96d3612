# Sourced by the *-check.sh scripts: `check_venv CHECK VENV REQUIREMENTS PROBE WHAT` makes (or
# reuses) the venv VENV with the pinned REQUIREMENTS. When it cannot be made, the check is skipped
# with a clear message (exit 0): python3-venv missing, or PyPI unreachable (tested by fetching
# PROBE's index page; WHAT names the packages in the message). A pip failure with PyPI reachable
# fails the check (exit 1). The venv is remade when REQUIREMENTS changes.
check_venv() {
  local check=$1 venv=$2 req=$3 probe=$4 what=$5
  if [ -x "$venv/bin/python" ] && cmp -s "$req" "$venv/requirements.txt"; then return 0; fi
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    echo "$check: SKIPPED — 'python3 -m venv' does not work here (Debian: apt-get install python3-venv)"
    exit 0
  fi
  if ! "$venv/bin/pip" install -q --disable-pip-version-check --timeout 20 --retries 1 -r "$req"; then
    rm -rf "$venv"
    if ! python3 -c "import urllib.request; urllib.request.urlopen('https://pypi.org/simple/$probe/', timeout=15)" >/dev/null 2>&1; then
      echo "$check: SKIPPED — PyPI is unreachable, so the pinned $what cannot be installed"
      exit 0
    fi
    echo "$check: FAILED — pip could not install $(grep -v '^#' "$req" | tr '\n' ' ')"
    exit 1
  fi
  cp "$req" "$venv/requirements.txt"
}
