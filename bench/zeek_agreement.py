#!/usr/bin/env python3
"""How often `packetlab explain --zeek-log` writes the TCP records Zeek writes.

Zeek's own test suite pairs packet traces with the conn.log Zeek made of them. This script
reads those pairs from a checkout of github.com/zeek/zeek (a git directory; nothing of it is
copied here), runs explain on each trace, and compares every TCP record: found (the same
4-tuple in either orientation, the same first-packet time), then `history` and `conn_state`.

    python3 bench/zeek_agreement.py /path/to/zeek.git [--binary target/release/packetlab]
        [--verbose] [--only SUBSTRING]

It prints one line per test with a difference, then the totals as percentages.
"""

import argparse
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path


def git(repo, *args, text=True):
    out = subprocess.run(["git", f"--git-dir={repo}", *args], capture_output=True, text=text)
    return out.stdout if out.returncode == 0 else None


def tests_with_conn_logs(repo):
    names = git(repo, "ls-tree", "-r", "--name-only", "HEAD", "testing/btest/Baseline") or ""
    for path in names.splitlines():
        if path.endswith("/conn.log"):
            yield path.split("/")[3], path


def test_source(repo, test):
    """The btest file of a Baseline directory's name (dots are folders, or part of a name)."""
    parts = test.split(".")
    for cut in range(len(parts), 0, -1):
        stem = "/".join(parts[:cut]) + ("." + ".".join(parts[cut:]) if cut < len(parts) else "")
        for ext in (".zeek", ".test", ""):
            text = git(repo, "show", f"HEAD:testing/btest/{stem}{ext}")
            if text is not None:
                return text
    return None


def zeek_command(source):
    """The trace and -C of the one `zeek -r $TRACES/...` the test runs; None if not one."""
    runs = []
    for line in source.splitlines():
        m = re.search(r"@TEST-EXEC:.*\bzeek\b(.*)", line)
        if m and "$TRACES/" in m.group(1):
            runs.append(m.group(1))
    if len(runs) != 1:
        return None
    words = shlex.split(runs[0].split("|")[0].split(">")[0], posix=True)
    traces = [w for i, w in enumerate(words) if i > 0 and words[i - 1] == "-r"]
    if len(traces) != 1 or not traces[0].startswith("$TRACES/"):
        return None
    return traces[0][len("$TRACES/"):], "-C" in words


def read_conn_log(text):
    fields, records = None, []
    for line in text.splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#") and fields:
            records.append(dict(zip(fields, line.split("\t"))))
    needed = ("id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "history", "conn_state")
    if not fields or not all(f in fields for f in needed):
        return []
    return [r for r in records if r.get("proto", "tcp") == "tcp" and r["id.orig_p"] != "-"]


def key(r):
    """The record's two ends, in either orientation (Zeek's test logs hide the times)."""
    return tuple(sorted([(r["id.orig_h"], r["id.orig_p"]), (r["id.resp_h"], r["id.resp_p"])]))


def by_key(records):
    groups = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return groups


def matched(mine, theirs, field):
    """How many of `theirs` have a partner in `mine` with the same `field` (as multisets)."""
    left = [r[field] for r in mine]
    n = 0
    for r in theirs:
        if r[field] in left:
            left.remove(r[field])
            n += 1
    return n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("repo")
    parser.add_argument("--binary", default="target/release/packetlab")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    totals = {"tests": 0, "records": 0, "found": 0, "history": 0, "state": 0}
    with tempfile.TemporaryDirectory() as tmp:
        for test, baseline in sorted(tests_with_conn_logs(args.repo)):
            if args.only not in test:
                continue
            source = test_source(args.repo, test)
            command = source and zeek_command(source)
            if not command:
                continue
            trace, ignore = command
            data = git(args.repo, "show", f"HEAD:testing/btest/Traces/{trace}", text=False)
            expected = read_conn_log(git(args.repo, "show", f"HEAD:{baseline}") or "")
            if not data or not expected or data.startswith(b"version https://git-lfs"):
                continue
            pcap = Path(tmp) / "trace"
            pcap.write_bytes(data)
            run = [args.binary, "explain", str(pcap), "--zeek-log", "-"]
            if ignore:
                run.append("--ignore-checksums")
            out = subprocess.run(run, capture_output=True, text=True)
            if out.returncode != 0:
                print(f"{test}: explain failed: {out.stderr.strip()[:200]}")
                continue
            ours = by_key(read_conn_log(out.stdout))
            totals["tests"] += 1
            for k, theirs in by_key(expected).items():
                mine = ours.get(k, [])
                totals["records"] += len(theirs)
                totals["found"] += min(len(mine), len(theirs))
                same_h = matched(mine, theirs, "history")
                same_s = matched(mine, theirs, "conn_state")
                totals["history"] += same_h
                totals["state"] += same_s
                if args.verbose and (same_h < len(theirs) or same_s < len(theirs)):
                    zeek = [(r["history"], r["conn_state"]) for r in theirs]
                    got = [(r["history"], r["conn_state"]) for r in mine]
                    print(f"{test}: {k} zeek {zeek} ours {got}")
    n = max(totals["records"], 1)
    print(f"{totals['tests']} tests, {totals['records']} TCP records of Zeek's: "
          f"{100 * totals['found'] / n:.1f} % found, "
          f"{100 * totals['history'] / n:.1f} % same history, "
          f"{100 * totals['state'] / n:.1f} % same conn_state")
    return 0


if __name__ == "__main__":
    sys.exit(main())
