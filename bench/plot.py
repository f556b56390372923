#!/usr/bin/env python3
"""`packetlab plot` on the 1 GiB transfer's trace: wall time and peak memory; and, for a
ratio, plot against tshark reading the same capture once with its TCP analysis (what any other
tool that draws it must at least do) on a smaller transfer, measured in the same run (tshark
takes minutes on the 1 GiB capture).

Usage: python3 bench/plot.py [--mib N] [--peer-mib N] [--runs N] [--markdown]

Each transfer is bench/shapes.py's `bulk` shape (one connection, 1 ms links), run with
`packetlab run` writing its capture and trace; each measurement is the median of N runs
(default 3), its peak resident memory the largest. The outputs are deleted afterwards.
"""

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "packetlab")


def measured(cmd):
    """Run a command alone in a child; (wall seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(cmd)}")
    return wall, usage.ru_maxrss / 1024


def median_of(cmd, runs):
    results = [measured(cmd) for _ in range(runs)]
    return statistics.median(w for w, _ in results), max(m for _, m in results)


def transfer(out, mib):
    """Run the bulk shape of `mib` MiB in `out`; its trace and capture."""
    scenario = os.path.join(out, f"bulk{mib}.toml")
    shape = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "shapes.py"), "bulk", str(mib)],
                           capture_output=True, text=True, check=True)
    with open(scenario, "w") as f:
        f.write(shape.stdout)
    print(f"running the {mib} MiB transfer ...", file=sys.stderr)
    subprocess.run([BINARY, "run", scenario, "--out", out, "--quiet"], check=True, capture_output=True)
    return os.path.join(out, f"bulk{mib}.trace.jsonl"), os.path.join(out, f"bulk{mib}.pcapng")


def plots(out, trace, runs, pictures):
    rows = []
    for kind, ext in pictures:
        picture = os.path.join(out, f"picture.{kind}.{ext}")
        wall, rss = median_of([BINARY, "plot", trace, "--kind", kind, "-o", picture], runs)
        rows.append((f"plot --kind {kind} -o .{ext}", wall, rss, os.path.getsize(picture)))
    return rows


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--peer-mib", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    tshark = shutil.which("tshark")
    with tempfile.TemporaryDirectory() as out:
        trace, capture = transfer(out, args.mib)
        size = os.path.getsize(trace) + os.path.getsize(capture)
        big = plots(out, trace, args.runs,
                    [("cwnd", "png"), ("cwnd", "svg"), ("cwnd", "html"), ("tcptrace", "png")])
        for p in (trace, capture):
            os.remove(p)
        trace, capture = transfer(out, args.peer_mib)
        small = plots(out, trace, args.runs, [("tcptrace", "png")])
        plot_capture = median_of([BINARY, "plot", capture, "-o", os.path.join(out, "c.png")], args.runs)
        peer = median_of([tshark, "-r", capture, "-q", "-z", "conv,tcp"], args.runs) if tshark else None
    if args.markdown:
        print(f"| {args.mib} MiB transfer (trace and capture {size / 2**30:.1f} GiB) | wall (s) | peak RSS (MiB) | picture (KiB) |")
        print("|---|---|---|---|")
        for name, wall, rss, pic in big:
            print(f"| `{name}` | {wall:.2f} | {rss:.0f} | {pic / 1024:.0f} |")
        print()
        print(f"| {args.peer_mib} MiB transfer | wall (s) | peak RSS (MiB) | time ÷ tshark |")
        print("|---|---|---|---|")
        for name, wall, rss, _ in small:
            ratio = f"{wall / peer[0]:.2f}×" if peer else "–"
            print(f"| `{name}` (trace) | {wall:.2f} | {rss:.0f} | {ratio} |")
        ratio = f"{plot_capture[0] / peer[0]:.2f}×" if peer else "–"
        print(f"| `plot CAPTURE -o .png` (capture alone) | {plot_capture[0]:.2f} | {plot_capture[1]:.0f} | {ratio} |")
        if peer:
            print(f"| `tshark -r CAPTURE -q -z conv,tcp` (the peer) | {peer[0]:.2f} | {peer[1]:.0f} | 1.00× |")
    else:
        for name, wall, rss, pic in big + small:
            print(f"{name:32} {wall:6.2f} s {rss:7.0f} MiB {pic / 1024:8.0f} KiB")
        print(f"{'plot capture':32} {plot_capture[0]:6.2f} s {plot_capture[1]:7.0f} MiB")
        if peer:
            print(f"{'tshark conv,tcp (peer)':32} {peer[0]:6.2f} s {peer[1]:7.0f} MiB")


if __name__ == "__main__":
    main()
