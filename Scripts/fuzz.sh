#!/usr/bin/env bash
# Runs the libFuzzer targets of Sources/convlens-fuzz (Docs/Reliability.md).
#   Scripts/fuzz.sh BIN "TARGETS" SECONDS [JOBS]
# Seeds come from the test fixtures (and the regression corpus in Tests/Fixtures/fuzz/TARGET);
# the corpus grows in .build-fuzz/corpus/TARGET across runs (and is shared by overlapping runs); a crash, a hang (-timeout) or an
# out-of-memory input is saved as .build-fuzz/findings/TARGET-PID-*. A single allocation over 4 GiB
# returns NULL (as the HDF5 child's address-space cap makes it in a release build). Swift's own
# backtracer is off, so a Swift trap reaches libFuzzer as a deadly signal with ASan's stack. Prints one summary line per target
# and fails when any target found something.
set -uo pipefail
BIN=$(realpath "$1"); TARGETS=$2; SECONDS_PER_TARGET=$3; JOBS=${4:-1}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/.build-fuzz
mkdir -p "$OUT/findings" "$OUT/logs"

seed_files() {
  local fx=$ROOT/Tests/Fixtures
  case $1 in
    onnx) find "$fx" -name '*.onnx' -size -400k ;;
    keras-h5) find "$fx/keras" -name '*.h5' ;;
    keras-zip) find "$fx/keras" -name '*.keras' ;;
    image) find "$fx/imaging" "$fx/golden" \( -name '*.png' -o -name '*.jpg' \) -size -200k ;;
    npy) find "$fx/npy" "$fx/imaging" -name '*.npy' -size -64k ;;
    scan) find "$fx/scan" -name '*.json' ;;
  esac
  # The regression corpus, but for inputs that hang libhdf5 (each would cost the timeout).
  [ -d "$fx/fuzz/$1" ] && find "$fx/fuzz/$1" -type f ! -name "hang_*"
}

status=0
for t in $TARGETS; do
  # Seeds and log per run, so runs of one target may overlap (they share the corpus).
  seeds=$OUT/seeds/$t.$$ corpus=$OUT/corpus/$t
  mkdir -p "$seeds" "$corpus"
  seed_files "$t" | while read -r f; do cp "$f" "$seeds/$(echo "$f" | md5sum | cut -c1-12)-$(basename "$f")"; done
  log=$OUT/logs/$t-$(date +%Y%m%d-%H%M%S).log
  parallel=(); [ "$JOBS" -gt 1 ] && parallel=(-jobs="$JOBS" -workers="$JOBS")
  run=$OUT/runs/$t.$$; mkdir -p "$run"  # libFuzzer's worker logs (-jobs) go to the current folder
  # CPU seconds (user + system) of the fuzzer and its workers: libFuzzer's -max_total_time is wall time.
  TIMEFORMAT='%U %S'
  { time (cd "$run" && CONVLENS_FUZZ_TARGET=$t CONVLENS_HDF5_TIMEOUT=1 SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:handle_abort=1:quarantine_size_mb=16:malloc_context_size=8:allocator_may_return_null=1:max_allocation_size_mb=4096 \
    "$BIN" "$corpus" "$seeds" -max_total_time="$SECONDS_PER_TARGET" -timeout=25 -rss_limit_mb=6144 -malloc_limit_mb=8192 \
    -artifact_prefix="$OUT/findings/$t-$$-" -print_final_stats=1 "${parallel[@]}" \
    -close_fd_mask=3 >"$log" 2>&1) ; } 2>"$run.cpu"
  rc=$?
  cpu=$(awk '{printf "%.0f", $1 + $2}' "$run.cpu"); rm -f "$run.cpu"
  rm -rf "$seeds"
  cat "$run"/fuzz-*.log >>"$log" 2>/dev/null; rm -rf "$run"
  found=$(ls "$OUT/findings" | grep -c "^$t-$$-" || true)
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
  cov=$(grep -oE '(INITED|DONE|pulse|NEW|REDUCE) +cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
  echo "fuzz $t: ${SECONDS_PER_TARGET}s x $JOBS, ${cpu:-?} CPU s, $execs executions, coverage ${cov:-?} edges, ${ft:-?} features, corpus $(ls "$corpus" | wc -l) files, $found new findings (log: $log)"
  if [ $rc -ne 0 ] || [ "$found" -gt 0 ]; then
    status=1
    grep -m3 -E 'ERROR|Fatal error|SUMMARY|timeout|out-of-memory' "$log" | sed 's/^/  /'
  fi
done
exit $status
