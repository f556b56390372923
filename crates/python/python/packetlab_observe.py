"""packetlab's observer: runs a program on the real kernel's sockets, unchanged, and records
for each TCP connection the length and SHA-256 of what the program sent and received, and how
the program ended, in the JSON file that PACKETLAB_OBSERVE names.

Usage: python3 packetlab_observe.py PROGRAM [ARGS...]
"""

import atexit
import hashlib
import json
import os
import runpy
import signal
import socket as _socket_module
import sys
import threading
import traceback

_RECORD = os.environ.get("PACKETLAB_OBSERVE")
_LOCK = threading.RLock()
_CONNECTIONS = []
_END = {"exit": None, "exception": None}


def _address(addr):
    # As Rust's SocketAddr reads it: IPv6 in brackets; an IPv4-mapped address (an IPv4 peer
    # of a dual-stack socket) as the IPv4 address it is on the wire.
    host = addr[0]
    if host.startswith("::ffff:") and "." in host:
        host = host[7:]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, addr[1])


def _write():
    """Write the record whole (to a temporary file renamed into place), one writer at a time;
    the program never sees an error of ours."""
    if not _RECORD:
        return
    with _LOCK:
        record = {
            "exit": _END["exit"],
            "exception": _END["exception"],
            "connections": [
                {
                    "local": c["local"],
                    "remote": c["remote"],
                    "sent": [c["sent_len"], c["sent"].hexdigest()],
                    "received": [c["received_len"], c["received"].hexdigest()],
                }
                for c in _CONNECTIONS
            ],
        }
        tmp = _RECORD + ".tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(record, f)
            os.replace(tmp, _RECORD)
        except OSError:
            pass


class _Socket(_socket_module.socket):
    """A socket that counts and hashes what goes through it; everything else is the kernel's."""

    def _open(self):
        if self.type != _socket_module.SOCK_STREAM or getattr(self, "_pl", None):
            return
        try:
            entry = {
                "local": _address(self.getsockname()),
                "remote": _address(self.getpeername()),
                "sent": hashlib.sha256(),
                "sent_len": 0,
                "received": hashlib.sha256(),
                "received_len": 0,
            }
        except OSError:
            return
        self._pl = entry
        with _LOCK:
            _CONNECTIONS.append(entry)

    def _count(self, way, data):
        entry = getattr(self, "_pl", None)
        if entry is None:
            self._open()
            entry = getattr(self, "_pl", None)
        if entry is not None and data:
            with _LOCK:
                entry[way].update(data)
                entry[way + "_len"] += len(data)

    def connect(self, address):
        super().connect(address)
        self._open()

    def connect_ex(self, address):
        result = super().connect_ex(address)
        if result == 0:
            self._open()
        return result

    def accept(self):
        conn, addr = super().accept()
        conn._open()
        return conn, addr

    def send(self, data, *flags):
        n = super().send(data, *flags)
        self._count("sent", memoryview(data).cast("B")[:n])
        return n

    def sendall(self, data, *flags):
        super().sendall(data, *flags)
        self._count("sent", memoryview(data).cast("B"))

    def recv(self, size, *flags):
        data = super().recv(size, *flags)
        self._count("received", data)
        return data

    def recv_into(self, buffer, nbytes=0, *flags):
        n = super().recv_into(buffer, nbytes, *flags)
        self._count("received", memoryview(buffer).cast("B")[:n])
        return n

    def close(self):
        super().close()
        if getattr(self, "_pl", None) is not None:
            _write()


def _terminated(signum, frame):
    raise SystemExit(128 + signum)


def main():
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        sys.exit(2)
    program = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(program))
    _socket_module.socket = _Socket
    signal.signal(signal.SIGTERM, _terminated)
    atexit.register(_write)
    status = 0
    try:
        runpy.run_path(program, run_name="__main__")
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
    except BaseException as e:
        traceback.print_exc()
        status = 1
        _END["exception"] = type(e).__name__
    _END["exit"] = status
    _write()
    sys.stdout.flush()
    sys.exit(status)


if __name__ == "__main__":
    main()
