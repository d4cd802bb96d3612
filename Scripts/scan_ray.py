#!/usr/bin/env python3
"""Runs a sharded `convlens scan` on Ray and merges the shards (Docs/Scan.md).

    python Scripts/scan_ray.py --convlens .build/release/convlens --shards 3 --out scan/ -- \
        --images photos/ --layer '#12' --top 9

Starts a local Ray cluster unless --address names one (every node must see the convlens binary,
the model and the images at the same paths, and OUT on a shared file system). Each task runs
`convlens scan ... --shard i/n --resume --out OUT/shards/i`, so a failed task that Ray retries
resumes from its checkpoint. Then `convlens scan-merge` writes OUT/merged/.

With --check DIR the merged scan.json must equal DIR/scan.json byte for byte (exit 1 otherwise).
"""
import argparse
import filecmp
import os
import subprocess
import sys

import ray


@ray.remote(num_cpus=1, max_retries=2)
def scan_shard(convlens, scan_args, index, count, out):
    cmd = [convlens, "scan", *scan_args, "--shard", f"{index}/{count}", "--resume", "--out", out]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"shard {index}/{count} failed ({r.returncode}): {r.stderr.strip()}")
    return index, r.stdout.strip()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--convlens", required=True, help="the convlens executable")
    p.add_argument("--shards", type=int, required=True, help="number of shards n")
    p.add_argument("--out", required=True, help="output folder: OUT/shards/i and OUT/merged")
    p.add_argument("--address", help="an existing Ray cluster (default: start a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs of the local cluster")
    p.add_argument("--check", help="a single-scan folder whose scan.json the merge must equal")
    p.add_argument("scan_args", nargs=argparse.REMAINDER, help="-- then the options of convlens scan (without --shard/--out)")
    a = p.parse_args()
    scan_args = a.scan_args[1:] if a.scan_args[:1] == ["--"] else a.scan_args
    if a.shards < 1:
        p.error("--shards must be at least 1")
    convlens = os.path.abspath(a.convlens)
    out = os.path.abspath(a.out)
    if a.address:
        ray.init(address=a.address)
    else:
        ray.init(num_cpus=a.num_cpus, include_dashboard=False, log_to_driver=False)
    shard_dirs = [os.path.join(out, "shards", str(i)) for i in range(a.shards)]
    tasks = [scan_shard.remote(convlens, scan_args, i, a.shards, d) for i, d in enumerate(shard_dirs)]
    for index, line in sorted(ray.get(tasks)):
        print(f"shard {index}/{a.shards}: {line}")
    ray.shutdown()
    merged = os.path.join(out, "merged")
    r = subprocess.run([convlens, "scan-merge", *shard_dirs, "--out", merged], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"scan-merge failed ({r.returncode}): {r.stderr.strip()}")
    print(r.stdout.strip())
    if a.check:
        if not filecmp.cmp(os.path.join(merged, "scan.json"), os.path.join(a.check, "scan.json"), shallow=False):
            sys.exit(f"FAIL: {merged}/scan.json differs from {a.check}/scan.json")
        print(f"OK: the merge of {a.shards} shards equals the single scan {a.check}/scan.json")


if __name__ == "__main__":
    main()
