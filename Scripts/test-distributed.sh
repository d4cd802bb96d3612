#!/usr/bin/env bash
# make test-distributed: a 3-shard scan of the sample images on a local Ray cluster, merged, must
# equal the single scan byte for byte. Usage: Scripts/test-distributed.sh CONVLENS PYTHON
set -euo pipefail
convlens=$(realpath "$1"); python=$2
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/images/again"
cp "$root"/Sources/ConvLens/Resources/images/* "$tmp/images/"
cp "$root"/Sources/ConvLens/Resources/images/* "$tmp/images/again/"
printf 'not an image' > "$tmp/images/broken.png"
args=(--images "$tmp/images" --layer '#4' --layer '#10' --top 3)
"$convlens" scan "${args[@]}" --out "$tmp/single" 2>/dev/null
"$python" "$root/Scripts/scan_ray.py" --convlens "$convlens" --shards 3 --num-cpus 2 --out "$tmp/ray" \
    --check "$tmp/single" -- "${args[@]}"
