#!/usr/bin/env bash
# Seeds for the `scan` fuzz target (Docs/Reliability.md): scan.json files written by convlens
# itself on the scan fixture model and the bundled images (a whole scan with --per-position and a
# shard), copied to Tests/Fixtures/scan/seeds/.
#   Scripts/make-fuzz-seeds.sh .build/release/convlens
set -euo pipefail
BIN=$1
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/Tests/Fixtures/scan/seeds
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
BIN=$(realpath "$BIN")
cd "$ROOT"  # relative paths, so the files do not depend on where the repository is
MODEL=Tests/Fixtures/scan/blobconv.onnx
IMAGES=Sources/ConvLens/Resources/images
mkdir -p "$OUT"
"$BIN" scan --model "$MODEL" --images "$IMAGES" --layer "#0" --top 2 --per-position --out "$TMP/whole" >/dev/null
"$BIN" scan --model "$MODEL" --images "$IMAGES" --layer "#0" --top 3 --shard 1/2 --out "$TMP/shard" >/dev/null
cp "$TMP/whole/scan.json" "$OUT/whole.json"
cp "$TMP/shard/scan.json" "$OUT/shard.json"
echo "wrote $OUT"
