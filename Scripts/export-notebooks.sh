#!/usr/bin/env bash
# `make notebooks`: regenerates Notebooks-export/ from scratch with the bundled model and image.
# Arrays over 128 KiB are not kept (their PNGs are; each notebook's command line regenerates them
# without the limit), so the folder stays small enough to commit.
set -euo pipefail
bin=${1:?usage: export-notebooks.sh path/to/convlens OUTDIR}
out=${2:?usage: export-notebooks.sh path/to/convlens OUTDIR}
study=${STUDY_BIN:-}
limit=131072
rm -rf "$out"
mkdir -p "$out"
# (a) filters and activations of three layers.
"$bin" notebook --title "Filters and activations of three MobileNetV2 layers" \
  --layer '#0' --layer '#20' --layer '#65' --sections filters,activations \
  --max-array-bytes $limit --out "$out/a-filters-activations"
# (b) deconvnet vs guided vs backprop for the strongest units of a late layer.
"$bin" notebook --title "Deconvnet, guided backprop and backprop on the strongest units of a late layer" \
  --layer '#94' --strongest 2 --sections activations,projections,compare --rule all --tile-size 96 \
  --max-array-bytes $limit --out "$out/b-rules-late-layer"
# (c) direct views (activation overlays) vs deconvolution across layers.
"$bin" notebook --title "Direct views and projections across layers" \
  --layer '#20' --layer '#37' --layer '#65' --strongest 1 --sections activations,compare --tile-size 96 \
  --max-array-bytes $limit --out "$out/c-direct-vs-projection"
# (d) the library study (Examples/LayerStudy), when its executable is given.
if [ -n "$study" ]; then
  "$study" --layer '#94' --top 3 --max-array-bytes $limit --out "$out/d-layer-study"
fi
cp "$(dirname "$0")/../Notebooks-export.README.md" "$out/README.md" 2>/dev/null || true
du -sh "$out"/*
