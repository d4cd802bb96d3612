#!/usr/bin/env bash
# Regenerates Sources/ConvLensExport/TensorBoard/Generated/event.pb.swift from event.proto beside
# it (a minimal subset of TensorFlow's event.proto/summary.proto with TensorBoard's field numbers),
# with protoc-gen-swift built from the swift-protobuf version Package.swift uses.
# Needs: protoc (Debian protobuf-compiler), git, swift. Set PROTOC_GEN_SWIFT to an already built
# plugin (swift-protobuf 1.39.0) to skip the ~3-minute build.
set -euo pipefail
PROTOBUF_VERSION=1.39.0
root=$(cd "$(dirname "$0")/.." && pwd)
plugin=${PROTOC_GEN_SWIFT:-}
if [ -z "$plugin" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  git clone --quiet https://github.com/apple/swift-protobuf "$work/swift-protobuf"
  git -C "$work/swift-protobuf" checkout --quiet "$PROTOBUF_VERSION"
  (cd "$work/swift-protobuf" && swift build -c release --product protoc-gen-swift >/dev/null)
  plugin="$work/swift-protobuf/.build/release/protoc-gen-swift"
fi
out="$root/Sources/ConvLensExport/TensorBoard/Generated"
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Internal --swift_opt=UseAccessLevelOnImports=true --swift_out="$out" -I "$out" event.proto
echo "wrote $out/event.pb.swift (swift-protobuf $PROTOBUF_VERSION)"
