"""The bridge to packetlab's simulator: one connection per Python thread, one JSON line a
request and one a reply, over the Unix socket named in PACKETLAB_BRIDGE.

Every call names the program's own line that made it (`server.py:14 conn.close()`), so that
the trace can show it beside what it caused. A call that fails raises what CPython raises on
Linux: OSError with the errno, which CPython turns into ConnectionRefusedError and its kin.
"""

import errno as _errno
import json
import linecache
import os
import socket as _socket
import sys
import threading

_BRIDGE = os.environ.get("PACKETLAB_BRIDGE")
_HERE = os.path.dirname(os.path.abspath(__file__))
_RealSocket = _socket.socket
_local = threading.local()
# The program's path, as given; set by the shim before the program starts.
program = None
# Descriptors whose socket objects were collected in the middle of a call: closed by the
# thread's next call, so that the line stays one request, one reply.
_deferred_closes = []


class _Channel:
    """This thread's connection to the simulator."""

    def __init__(self, hello):
        raw = _RealSocket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        raw.connect(_BRIDGE)
        self.reader = raw.makefile("rb")
        self.raw = raw
        self.busy = False
        self.call(hello)

    def call(self, request):
        self.busy = True
        try:
            self.raw.sendall((json.dumps(request) + "\n").encode())
            line = self.reader.readline()
        finally:
            self.busy = False
        if not line:
            os._exit(3)  # the simulator has gone: nothing sensible is left to do
        return json.loads(line)


def channel():
    """This thread's channel, made (and its turn awaited) on first use."""
    current = getattr(_local, "channel", None)
    if current is None:
        name = threading.current_thread().name
        current = _Channel({"op": "hello", "thread": name})
        _local.channel = current
    return current


def busy():
    """Whether this thread is in the middle of a call (a finalizer must not call now)."""
    current = getattr(_local, "channel", None)
    return current is not None and current.busy


def ours(filename):
    """Whether a frame is packetlab's (this shim's files, or runpy starting the program)."""
    return os.path.dirname(os.path.abspath(filename)) == _HERE or filename.startswith("<frozen ")


def where():
    """The program's own line that made the current call: `server.py:14 conn.close()`."""
    frame = sys._getframe(1)
    fallback = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if not ours(filename):
            if fallback is None:
                fallback = frame
            if program and os.path.abspath(filename) == os.path.abspath(program):
                break
        frame = frame.f_back
    frame = frame or fallback
    if frame is None:
        return ""
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    name = os.path.basename(frame.f_code.co_filename)
    return f"{name}:{frame.f_lineno} {code}"


def fail(reply):
    """Raise what the reply says went wrong, as CPython raises it."""
    err = reply["err"]
    if err == "timeout":
        raise TimeoutError("timed out")
    number = getattr(_errno, err, 0)
    if not number:
        raise OSError(reply.get("msg", err))
    raise OSError(number, os.strerror(number))


def call(op, **fields):
    """Make a call on the simulator; its value, or the exception it raises."""
    if _deferred_closes:
        flush_deferred()
    request = {"op": op, "at": where()}
    request.update(fields)
    reply = channel().call(request)
    if "err" in reply:
        fail(reply)
    return reply.get("ok")


def flush_deferred():
    while _deferred_closes:
        fd = _deferred_closes.pop()
        try:
            reply = channel().call({"op": "close", "fd": fd, "at": where()})
        except Exception:
            reply = None
        del reply


def close_later(fd):
    """A socket object was collected: its descriptor closes now, or after this call."""
    if busy():
        _deferred_closes.append(fd)
    else:
        try:
            call("close", fd=fd)
        except OSError:
            pass


def say(request):
    """A message of the program's own (output, threads, its end): no line, no error."""
    return channel().call(request)


def refuse(what, number, why):
    """Tell packetlab, then raise at the program's line: the run cannot be what it would be."""
    call("not_simulated", what=str(what))
    error = OSError(number, f"{what} is not simulated by packetlab {why}")
    refusals.append(error)
    raise error


# The refusals raised, to tell at the end whether one ended the program.
refusals = []


def unsupported(what, why="yet"):
    def refused(*args, **kwargs):
        refuse(what, _errno.ENOSYS, why)

    return refused
