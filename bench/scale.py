"""packetlab's scale benchmark: runs the shapes of bench/shapes.py at growing sizes with the
release binary, measures wall time and peak memory of each run, and writes BENCHMARKS.md
with the growth exponent of time per shape and, for the flat LAN and the bulk transfer, the
ratio to ns-3 doing the same work in the same run (bench/ns3/shapes.cc, built against
Debian's libns3-dev, which this script installs with apt when it is missing and it runs as
root).

    python3 bench/scale.py            # every size (minutes)
    python3 bench/scale.py --quick    # the small sizes only
    python3 bench/scale.py --no-ns3   # packetlab only
"""

import argparse
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import shapes  # noqa: E402

# (shape, sizes, packetlab options): outputs on, except where they would fill the disk.
PLAN = [
    ("routed", [1_000, 10_000, 100_000], []),
    ("fan", [1_000, 10_000], []),
    ("flat", [1_000, 3_000], []),
    ("flat", [10_000], ["--no-capture", "--no-trace"]),
    ("bulk", [256, 1024], []),
    ("idle", [1_000, 10_000], ["--no-capture", "--no-trace"]),
]
QUICK = {"routed": [1_000, 10_000], "fan": [1_000], "flat": [1_000], "bulk": [256]}
NS3 = [("flat", [1_000, 3_000]), ("bulk", [256, 1024])]
NS3_LIBS = ["core", "network", "internet", "applications", "csma", "bridge", "point-to-point"]


def run_isolated(command, cwd=None):
    """Run a command; its wall time (s), peak RSS (MiB) and standard output. It runs under a
    fresh Python process of its own, whose RUSAGE_CHILDREN is then this command's alone."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True)\n"
        "w = time.monotonic() - t\n"
        "sys.stdout.write(f'{p.returncode} {w} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}\\n')\n"
        "sys.stdout.write(p.stdout.decode(errors='replace'))\n"
        "sys.stderr.write(p.stderr.decode(errors='replace'))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *command], cwd=cwd, capture_output=True)
    head, _, rest = done.stdout.decode(errors="replace").partition("\n")
    code, wall, rss = head.split()
    if code != "0":
        sys.exit(f"failed: {' '.join(command)}\n{rest}{done.stderr.decode(errors='replace')}")
    return float(wall), int(rss) / 1024, rest


# A run shorter than this is repeated and its median taken: on a shared 2-core machine a
# single short run varies by a third from one try to the next.
SHORT = 10.0
REPEATS = 3


def packetlab(binary, shape, n, options, scratch):
    path = os.path.join(scratch, f"{shape}-{n}.toml")
    with open(path, "w") as f:
        f.write(getattr(shapes, shape)(n))
    tries = []
    while len(tries) < REPEATS:
        for name in os.listdir(scratch):
            if name.startswith(f"{shape}-{n}.") and not name.endswith(".toml"):
                os.remove(os.path.join(scratch, name))
        os.sync()
        tries.append(run_isolated([binary, "run", "--quiet", "--out", scratch, *options, path]))
        if tries[0][0] >= SHORT:
            break
    tries.sort(key=lambda t: t[0])
    wall, rss, out = tries[len(tries) // 2]
    frames = re.search(r"\((\d+) frames", out)
    events = re.search(r"\((\d+) events", out)
    counts = re.search(r"wrote nothing \((\d+) frames, (\d+) events\)", out)
    if counts:
        frames, events = counts.group(1), counts.group(2)
    else:
        frames = frames.group(1) if frames else "–"
        events = events.group(1) if events else "–"
    for name in os.listdir(scratch):
        if name.startswith(f"{shape}-{n}."):
            os.remove(os.path.join(scratch, name))
    return {"wall": wall, "rss": rss, "frames": frames, "events": events}


def ns3_library_prefix():
    """How this ns-3's libraries are named: `ns3-` (Debian's 3.37: libns3-core.so) or
    `ns3.37-` (libns3.37-core.so); None when there are none."""
    for folder in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib",
                   "/usr/local/lib"):
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            found = re.fullmatch(r"lib(ns3[.\d]*-)core(-default)?\.so", name)
            if found:
                return found.group(1), found.group(2) or ""
    return None


def ns3_binary(scratch):
    """Build bench/ns3/shapes.cc; None (with a reason printed) when ns-3 is not there."""
    if ns3_library_prefix() is None and os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing libns3-dev with apt-get …", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "-qq", "libns3-dev", "g++"], env=env,
                       check=False, stdout=subprocess.DEVNULL)
    naming = ns3_library_prefix()
    if naming is None or not shutil.which("g++"):
        print("ns-3 skipped: libns3-dev or g++ is not installed", file=sys.stderr)
        return None
    prefix, suffix = naming
    binary = os.path.join(scratch, "ns3-shapes")
    # Debian's .pc files are broken: link the libraries by name.
    libs = [f"-l{prefix}{lib}{suffix}" for lib in NS3_LIBS]
    subprocess.run(["g++", "-O2", "-std=c++17", os.path.join(ROOT, "bench/ns3/shapes.cc"),
                    "-I/usr/include", *libs, "-o", binary], check=True)
    return binary


def exponent(rows):
    """Growth exponent of wall time from the smallest to the largest size."""
    (n1, r1), (n2, r2) = rows[0], rows[-1]
    if n1 == n2 or r1["wall"] <= 0:
        return None
    return math.log(r2["wall"] / r1["wall"]) / math.log(n2 / n1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-ns3", action="store_true")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "packetlab-cli"], cwd=ROOT,
                   check=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="packetlab-scale-") as scratch:
        # A copy, so that a rebuild meanwhile does not change the binary under the runs.
        binary = os.path.join(scratch, "packetlab")
        shutil.copy2(os.path.join(ROOT, "target/release/packetlab"), binary)
        for shape, sizes, options in PLAN:
            if args.quick:
                sizes = [n for n in sizes if n in QUICK.get(shape, [])]
                if options:
                    continue
            rows = []
            for n in sizes:
                r = packetlab(binary, shape, n, options, scratch)
                print(f"packetlab {shape:7} {n:>7}  {r['wall']:7.2f} s  {r['rss']:8.1f} MiB  "
                      f"{r['frames']} frames  {r['events']} events", flush=True)
                rows.append((n, r))
            results.append((shape, options, rows))
        ns3 = {}
        binary3 = None if args.no_ns3 else ns3_binary(scratch)
        for shape, sizes in NS3 if binary3 else []:
            for n in sizes:
                if args.quick and n not in QUICK.get(shape, []):
                    continue
                wall, rss, _ = run_isolated([binary3, shape, str(n)])
                ns3[(shape, n)] = {"wall": wall, "rss": rss}
                print(f"ns-3      {shape:7} {n:>7}  {wall:7.2f} s  {rss:8.1f} MiB", flush=True)
    write_report(results, ns3)


# (shape, N, most seconds, most MiB) with outputs on.
TARGETS = [("routed", 10_000, 2, 500), ("fan", 10_000, 2, 500), ("routed", 100_000, 30, 4096),
           ("bulk", 1024, None, 100)]


def targets(results):
    """One line per target of the issue: the figure, the bound, and whether it is met."""
    found = {(shape, n): r for shape, options, rows in results if not options for n, r in rows}
    lines = []
    for shape, n, seconds, mib in TARGETS:
        r = found.get((shape, n))
        if not r:
            continue
        checks = [(f"{r['rss']:.0f} MiB", f"< {mib} MiB", r["rss"] < mib)]
        if seconds:
            checks.insert(0, (f"{r['wall']:.2f} s", f"< {seconds} s", r["wall"] < seconds))
        said = ", ".join(f"{got} ({bound}: {'met' if ok else 'NOT met'})" for got, bound, ok in checks)
        lines.append(f"- {shape} {n:,}: {said}")
    for shape, options, rows in results:
        if shape in ("routed", "fan") and not options and len(rows) > 1:
            e = exponent(rows)
            lines.append(f"- {shape} growth exponent {e:.2f} (≤ 1.15: {'met' if e <= 1.15 else 'NOT met'})")
    return lines


def write_report(results, ns3):
    lines = [
        "# Scale benchmark",
        "",
        f"Measured by `python3 bench/scale.py` on {time.strftime('%Y-%m-%d')}, "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), "
        "release build, `packetlab run --quiet`: capture and trace written to disk as the run "
        "goes unless the options say otherwise. Peak RSS is the process's maximum resident set. "
        f"A run under {SHORT:.0f} s is the median of {REPEATS}.",
        "",
        "| shape | N | options | wall (s) | peak RSS (MiB) | frames | events | ns-3 wall (s) | ns-3 RSS (MiB) | wall ÷ ns-3 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for shape, options, rows in results:
        for n, r in rows:
            other = ns3.get((shape, n)) if not options else None
            extra = ["–", "–", "–"]
            if other:
                extra = [f"{other['wall']:.2f}", f"{other['rss']:.1f}",
                         f"{r['wall'] / other['wall']:.2f}×"]
            lines.append(
                f"| {shape} | {n:,} | {' '.join(options) or 'outputs on'} | {r['wall']:.2f} | "
                f"{r['rss']:.1f} | {r['frames']} | {r['events']} | " + " | ".join(extra) + " |")
    lines += ["", "Growth exponent of wall time (log t₂/t₁ ÷ log N₂/N₁, smallest to largest N):", ""]
    for shape, options, rows in results:
        e = exponent(rows) if len(rows) > 1 else None
        if e is not None:
            lines.append(f"- {shape} ({' '.join(options) or 'outputs on'}): {e:.2f} "
                         f"(N = {rows[0][0]:,} → {rows[-1][0]:,})")
    for shape, options, rows in results:
        if shape == "idle" and len(rows) > 1:
            (n1, r1), (n2, r2) = rows[0], rows[-1]
            per = (r2["rss"] - r1["rss"]) * 1024 / (n2 - n1)
            lines.append(f"- an idle established connection costs {per:.1f} KiB (both ends' "
                         "TCBs and the server's thread; peak RSS difference over N, capture "
                         "and trace off)")
    for (shape, n), r in sorted(ns3.items()):
        if not any(s == shape and not o and any(m == n for m, _ in rows) for s, o, rows in results):
            lines.append(f"- ns-3 {shape} {n:,}: {r['wall']:.2f} s, {r['rss']:.1f} MiB "
                         "(packetlab ran this size only without outputs, see the table)")
    lines += ["", "Targets (issue 13), with outputs on:", ""] + targets(results)
    lines += [
        "",
        "Shapes (bench/shapes.py): *routed*, N clients in LANs of 100 behind one router, each "
        "echoing 1 KiB with a server on its own LAN; *fan*, one host opening N connections to "
        "one server, 1 KiB echoed on each; *idle*, the same connections left open; *flat*, N clients on one switch (a flat LAN really "
        "carries N² flooded ARP frames); *bulk*, one connection carrying N MiB. ns-3 "
        "(bench/ns3/shapes.cc) does the flat and bulk shapes with BulkSend (1 KiB one way per "
        "client) and PacketSink, without writing any trace or capture.",
        "",
    ]
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write("\n".join(lines))
    print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
