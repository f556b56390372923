#!/usr/bin/env python3
"""Does `packetlab explain --live` keep up? A bulk transfer over the loopback of a network
namespace made for the run (and deleted after), paced to a rate, watched live; the kernel's
drop counter for the watching socket (SO_RXQ_OVFL) says whether it kept up.

    sudo python3 bench/live.py [--binary target/release/packetlab] [--mib 1024]
        [--rates 1000,0]     # Mbit/s; 0 = as fast as loopback goes

For each rate it prints the transfer's goodput, the packets explain took and how many the
kernel dropped.
"""

import argparse
import os
import re
import signal
import subprocess
import sys
import time

SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 9000)); s.listen(1)
print('ready', flush=True)
c, _ = s.accept()
n = 0
while True:
    b = c.recv(1 << 20)
    if not b:
        break
    n += len(b)
print(n, flush=True)
"""

CLIENT = """
import socket, sys, time
total, rate = int(sys.argv[1]), float(sys.argv[2])
c = socket.create_connection(('127.0.0.1', 9000))
chunk = b'x' * (1 << 16)
sent, start = 0, time.monotonic()
while sent < total:
    c.sendall(chunk)
    sent += len(chunk)
    if rate > 0:
        ahead = sent * 8 / rate - (time.monotonic() - start)
        if ahead > 0:
            time.sleep(ahead)
c.close()
print(sent * 8 / (time.monotonic() - start) / 1e6, flush=True)
"""


def run(ns, binary, total, rate_mbit):
    watch = subprocess.Popen(
        [binary, "explain", "--live", "lo", "--netns", ns, "--filter", "tcp port 9000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    exec_ = ["ip", "netns", "exec", ns, "python3", "-c"]
    server = subprocess.Popen(exec_ + [SERVER], stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().strip() == "ready"
    client = subprocess.run(exec_ + [CLIENT, str(total), str(rate_mbit * 1e6)],
                            capture_output=True, text=True, check=True)
    server.wait()
    time.sleep(1)
    watch.send_signal(signal.SIGINT)
    _, err = watch.communicate()
    m = re.search(r"(\d+) packets taken, (\d+) dropped by the kernel", err)
    return float(client.stdout.strip()), (int(m.group(1)), int(m.group(2))) if m else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/packetlab")
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--rates", default="1000,0")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (a network namespace and CAP_NET_RAW)")
        return 2
    ns = f"plbench{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        for rate in (int(r) for r in args.rates.split(",")):
            goodput, counts = run(ns, args.binary, args.mib << 20, rate)
            paced = f"paced to {rate} Mbit/s" if rate else "unpaced"
            if counts is None:
                print(f"{paced}: explain printed no counts")
                continue
            taken, dropped = counts
            print(f"{args.mib} MiB {paced}: goodput {goodput:.0f} Mbit/s, explain took "
                  f"{taken} packets, the kernel dropped {dropped}")
    finally:
        subprocess.run(["ip", "netns", "del", ns])
    return 0


if __name__ == "__main__":
    sys.exit(main())
