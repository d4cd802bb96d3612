"""Checks notebooks written by `convlens notebook` (run by Scripts/notebook-check.sh).

For every notebook: nbformat.validate (nbformat 4.5: unique cell ids, code-cell fields, display_data
fields), at least one embedded PNG that decodes as PNG, the kernelspec, the exact command line, and a
`jupyter nbconvert --to html` render whose page holds the images inline. For the notebooks given
with --execute: `jupyter nbconvert --execute` in a copy of its folder; a cell must reload the arrays, check
their shapes (against manifest.json for `convlens notebook`) and say so.
"""
import argparse
import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat


def fail(msg):
    print(f"notebook-check: FAILED — {msg}")
    sys.exit(1)


def check(path: Path, work: Path, index: int):
    nb = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    if (nb.nbformat, nb.nbformat_minor) != (4, 5):
        fail(f"{path}: nbformat {nb.nbformat}.{nb.nbformat_minor}, expected 4.5")
    nbformat.validate(nb)
    ids = [c["id"] for c in nb.cells]
    if len(ids) != len(set(ids)):
        fail(f"{path}: duplicate cell ids")
    if nb.metadata.get("kernelspec", {}).get("name") != "python3":
        fail(f"{path}: no Python 3 kernelspec")
    pngs = [o["data"]["image/png"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    if not pngs:
        fail(f"{path}: no embedded PNG")
    for p in pngs:
        if not base64.b64decode(p).startswith(b"\x89PNG\r\n\x1a\n"):
            fail(f"{path}: an image/png output is not a base64 PNG")
    text = "".join(c.source for c in nb.cells)
    if "convlens " not in text or "np.load(" not in text:
        fail(f"{path}: no convlens command line or no np.load cell")
    out = work / f"html{index}"
    subprocess.run(["jupyter", "nbconvert", "--to", "html", "--output-dir", str(out), str(path)],
                   check=True, capture_output=True)
    html = next(out.glob("*.html")).read_text()
    if html.count("data:image/png;base64,") < len(pngs):
        fail(f"{path}: the HTML page shows {html.count('data:image/png;base64,')} of {len(pngs)} images")
    print(f"  ok  {path}: valid nbformat 4.5, {len(nb.cells)} cells, {len(pngs)} images, renders to HTML")


def execute(path: Path, work: Path, index: int):
    copy = work / f"execute{index}"
    shutil.copytree(path.parent, copy)
    subprocess.run(["jupyter", "nbconvert", "--to", "notebook", "--execute", "--output", "executed.ipynb",
                    "--ExecutePreprocessor.timeout=300", str(copy / path.name)], check=True, capture_output=True)
    nb = nbformat.read(copy / "executed.ipynb", as_version=4)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                      if o.get("output_type") == "stream")
    if "arrays reload with the documented shapes" not in printed:
        fail(f"{path}: the executed notebook did not report its arrays reloaded; it printed {printed!r}")
    printed = [l for l in printed.splitlines() if "arrays reload" in l][-1]
    figures = sum(1 for c in nb.cells if c.cell_type == "code" for o in c.outputs
                  if "image/png" in o.get("data", {}))
    print(f"  ok  {path}: executes; {printed.strip()}; {figures} figures")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--execute", action="append", default=[])
    ap.add_argument("notebooks", nargs="+")
    a = ap.parse_args()
    work = Path(a.work)
    for i, p in enumerate(a.notebooks):
        check(Path(p), work, i)
    for i, p in enumerate(a.execute):
        execute(Path(p), work, i)
    print(f"notebook-check: {len(a.notebooks)} notebooks valid and rendered, {len(a.execute)} executed")


if __name__ == "__main__":
    main()
