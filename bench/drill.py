#!/usr/bin/env python3
"""The drill suite's wall time: every script in scenarios/drill/ on our stack, on smoltcp
(the peer measured in the same run) and, as root, on the Linux kernel over TAP.

Usage: python3 bench/drill.py [--runs N] [--markdown]

Each engine runs the whole suite in one `packetlab drill` process, N times (default 5);
the median wall time is reported, with the ratio against smoltcp. Our stack runs twice:
writing the capture and trace of every script (as `packetlab drill` does by default) and
with `--no-outputs`. The kernel runs in real time, so its figure is the suite's own
length, not a measure of speed; it is given once, for scale.
"""

import argparse
import glob
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "packetlab")


def scripts():
    found = sorted(glob.glob(os.path.join(ROOT, "scenarios", "drill", "*", "*.pkt")))
    if not found:
        sys.exit("no scripts in scenarios/drill")
    return found


def run_once(engine, outputs, files):
    """One run of the scripts: (wall seconds, how many passed, which passed)."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [BINARY, "drill", *files, "--engine", engine, "--quiet"]
        cmd += ["--out", out] if outputs else ["--no-outputs"]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - start
    passed = [line.split(": passed on ")[0] for line in done.stdout.splitlines() if ": passed on " in line]
    return wall, len(passed), passed


def measure(engine, outputs, files, runs):
    results = [run_once(engine, outputs, files) for _ in range(runs)]
    walls = [w for w, _, _ in results]
    return statistics.median(walls), results[0][1]


def common(files):
    """The scripts that both our stack and smoltcp pass: a fair race (a failing script
    stops at its first difference)."""
    ours = set(run_once("packetlab", False, files)[2])
    theirs = set(run_once("smoltcp", False, files)[2])
    return sorted(ours & theirs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    if not os.path.exists(BINARY):
        sys.exit("build first: cargo build --release")
    files = scripts()
    rows = [
        ("packetlab", "captures and traces written", *measure("packetlab", True, files, args.runs)),
        ("packetlab", "--no-outputs", *measure("packetlab", False, files, args.runs)),
        ("smoltcp", "--no-outputs", *measure("smoltcp", False, files, args.runs)),
    ]
    both = common(files)
    rows += [
        ("packetlab", f"--no-outputs, the {len(both)} both pass", *measure("packetlab", False, both, args.runs)),
        ("smoltcp", f"--no-outputs, the {len(both)} both pass", *measure("smoltcp", False, both, args.runs)),
    ]
    if os.geteuid() == 0:
        rows.append(("kernel", "--no-outputs, real time", *measure("kernel", False, files, 1)))
    smoltcp = rows[2][2]
    smoltcp_common = rows[4][2]
    if args.markdown:
        print(f"| engine | outputs, scripts | wall (s), median of {args.runs} | scripts passed | wall ÷ smoltcp (same scripts) |")
        print("|---|---|---|---|---|")
    for i, (engine, how, wall, passed) in enumerate(rows):
        peer = smoltcp_common if i in (3, 4) else smoltcp
        ratio = f"{wall / peer:.2f}×" if engine != "kernel" else "–"
        if args.markdown:
            print(f"| {engine} | {how} | {wall:.3f} | {passed} | {ratio} |")
        else:
            print(f"{engine:10} {how:30} {wall:8.3f} s  {passed:3}/{len(files)} passed  {ratio}")


if __name__ == "__main__":
    main()
