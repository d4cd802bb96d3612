#!/usr/bin/env bash
# Issue-6 measurement: FFT vs GEMM vs PyTorch conv_transpose2d (128->128, 56x56, batch 16,
# k = 3, 5, 7, 11) on both cores, best of N.
# Usage: Scripts/bench-fft.sh [N] [python]
set -euo pipefail
repeats=${1:-5}
python=${2:-/work/main/.venv-ref/bin/python}
swift build -c release --product convlens >/dev/null
"$(swift build -c release --show-bin-path)/convlens" bench --fft-table --repeats "$repeats"
if [ -x "$python" ]; then "$python" "$(dirname "$0")/bench_conv_transpose_torch.py" "$repeats"; fi
