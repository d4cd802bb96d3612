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
  --layer '#0' --layer '#20' --layer '#65' --sections filters,activations --max-tiles 16 \
  --max-array-bytes $limit --out "$out/a-filters-activations"
# (b) deconvnet vs guided vs backprop for the strongest units of a late layer.
"$bin" notebook --title "Deconvnet, guided backprop and backprop on the strongest units of a late layer" \
  --layer '#94' --strongest 3 --sections activations,compare --tile-size 96 \
  --max-array-bytes $limit --out "$out/b-rules-late-layer"
# (c) direct views (activation overlays) vs deconvolution across layers.
"$bin" notebook --title "Direct views and projections across layers" \
  --layer '#20' --layer '#37' --layer '#65' --strongest 1 --sections activations,compare --tile-size 96 \
  --max-array-bytes $limit --out "$out/c-direct-vs-projection"
# (d) the library study (Examples/LayerStudy), when its executable is given.
if [ -n "$study" ]; then
  "$study" --layer '#20' --top 3 --max-array-bytes $limit --out "$out/d-layer-study"
fi
# The README: each notebook with a thumbnail (one of its own pictures) and the line that made it.
thumb() { (cd "$out/$1" && ls $2 2>/dev/null | head -1); }
{
  echo "# Notebooks-export"
  echo
  echo "Example notebooks written by \`convlens notebook\` (and, for (d), the library study"
  echo "\`Examples/LayerStudy\`) from the bundled MobileNetV2 and photograph. Regenerate them from"
  echo "scratch with \`make notebooks\`; \`make test\` validates, renders and executes them (\`make"
  echo "notebook-check\`). Pictures are embedded, so GitHub and JupyterLab show them without running."
  echo "Arrays over 128 KiB are not kept here (\`--max-array-bytes\`); the command line in each"
  echo "notebook regenerates them."
  echo
  echo "| notebook | what it shows | thumbnail |"
  echo "|---|---|---|"
  row() { local t; t=$(thumb "$1" "$3"); echo "| [$1/notebook.ipynb]($1/notebook.ipynb) | $2 | <img src=\"$1/$t\" width=\"240\" alt=\"$1\"> |"; }
  row a-filters-activations "(a) filters and activations of three layers (#0, #20, #65)" "filters/*/*-filter-grid.png"
  row b-rules-late-layer "(b) deconvnet vs guided vs backprop for the three strongest units of a late layer (#94)" "compare/*/*_c*_panel.png"
  row c-direct-vs-projection "(c) direct views (activation overlays) vs projections across layers (#20, #37, #65)" "compare/*/*_c*_panel.png"
  [ -d "$out/d-layer-study" ] && row d-layer-study "(d) the library study: every channel of #20 × three rules, ranked, with the strongest units' panels (\`report.md\`)" "compare/*_c*_panel.png"
  echo
  echo "Sizes:"
  echo
  echo '```'
  (cd "$out" && du -sh */ | sed 's#/$##')
  echo '```'
} > "$out/README.md"
du -sh "$out"/*
