#!/bin/sh
# Regenerates the pictures of Docs/Attribution.md, Docs/Optimize.md and Docs/Explorer.md from the bundled model and images.
# Usage: Scripts/doc-images.sh [path/to/convlens]   (default: .build/release/convlens)
set -eu
BIN=${1:-.build/release/convlens}
IMAGES=Sources/ConvLens/Resources/images
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
"$BIN" gradcam --image "$IMAGES/rocket.jpg" --layer '#96' --out "$TMP/g" >/dev/null
cp "$TMP"/g/*_class540_gradcam.png Docs/images/gradcam-rocket.png
"$BIN" occlusion --image "$IMAGES/coffee.png" --window 40 --stride 16 --out "$TMP/o" >/dev/null
cp "$TMP/o/class967_occlusion.png" Docs/images/occlusion-espresso.png
cp "$TMP/o/class967_occlusion_map.png" Docs/images/occlusion-espresso-map.png
"$BIN" compare --layer '#52' --channel 3 --gradcam-layer '#20' --occlusion-window 48 --out "$TMP/c" >/dev/null
cp "$TMP"/c/*_c3_panel.png Docs/images/compare-gradcam-occlusion.png
"$BIN" optimize --layer '#10' --channel 1,2 --steps 256 --out "$TMP/m" >/dev/null
cp "$TMP"/m/*_c1_optimized.png Docs/images/optimize-features3-c1.png
cp "$TMP"/m/*_c1_objective.png Docs/images/optimize-features3-c1-objective.png
"$BIN" optimize --class 285 --steps 256 --out "$TMP/k" >/dev/null
cp "$TMP/k/class285_optimized.png" Docs/images/optimize-class285.png
"$BIN" compare --layer /features/features.3/Add --channel 2,5 --optimize-steps 256 --out "$TMP/p" >/dev/null
cp "$TMP"/p/*_page.png Docs/images/compare-optimized.png
EXPLORER_SCREENSHOT="$(pwd)/Docs/images/explorer.png" Scripts/explorer-check.sh "$BIN" >/dev/null
echo "Docs/images: explorer.png"
echo "Docs/images: optimize-features3-c1.png optimize-features3-c1-objective.png optimize-class285.png compare-optimized.png"
echo "Docs/images: gradcam-rocket.png occlusion-espresso.png occlusion-espresso-map.png compare-gradcam-occlusion.png"
