#!/usr/bin/env bash
# Issue-6 measurement: FFT vs GEMM vs PyTorch conv_transpose2d (128->128, 56x56, batch 16,
# k = 3, 5, 7, 11) on both cores, best of N. Usage: Scripts/bench-fft.sh [repeats] [python]
set -euo pipefail
repeats=${1:-5}
python=${2:-/work/main/.venv-ref/bin/python}
swift build -c release --build-tests >/dev/null
CONVLENS_BENCH=1 CONVLENS_BENCH_REPEATS=$repeats swift test -c release --skip-build --disable-swift-testing \
  --filter ConvolutionBenchmark 2>&1 | grep -E "^(k|[0-9]+ )" || true
if [ -x "$python" ]; then "$python" "$(dirname "$0")/bench_conv_transpose_torch.py" "$repeats"; fi
