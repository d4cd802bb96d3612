#!/usr/bin/env bash
# Regenerates Sources/ConvLensGraph/ONNX/Generated/onnx.pb.swift from the onnx.proto shipped in the
# pinned `onnx` wheel, with protoc-gen-swift built from the swift-protobuf version Package.swift uses.
# Needs: protoc (Debian protobuf-compiler), pip, git, swift. Set PROTOC_GEN_SWIFT to an already built
# plugin (swift-protobuf 1.39.0) to skip the ~3-minute build.
# Visibility=Package: the messages are visible to the package's own targets (the benchmark target's
# ONNX writer) and hidden from library users.
set -euo pipefail
ONNX_VERSION=1.23.2
PROTOBUF_VERSION=1.39.0
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pip download --quiet --no-deps "onnx==$ONNX_VERSION" -d "$work/wheel"
python3 -m zipfile -e "$work"/wheel/onnx-*.whl "$work/onnx"

plugin=${PROTOC_GEN_SWIFT:-}
if [ -z "$plugin" ]; then
  git clone --quiet https://github.com/apple/swift-protobuf "$work/swift-protobuf"
  git -C "$work/swift-protobuf" checkout --quiet "$PROTOBUF_VERSION"
  (cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift >/dev/null)
  plugin="$work/swift-protobuf/.build/release/protoc-gen-swift"
fi

out="$root/Sources/ConvLensGraph/ONNX/Generated"
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Package --swift_opt=UseAccessLevelOnImports=true --swift_out="$out" -I "$work/onnx/onnx" onnx.proto
echo "wrote $out/onnx.pb.swift (onnx $ONNX_VERSION, swift-protobuf $PROTOBUF_VERSION)"
