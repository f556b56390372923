"""packetlab's stand-in for the operating system under a Python program.

`python3 packetlab_shim.py PROGRAM [ARGS...]` runs PROGRAM unmodified, with its sockets,
`select`, clocks, threads and standard streams served by packetlab's simulator over the
Unix socket named in PACKETLAB_BRIDGE: every socket call becomes a call on packetlab's own
TCP/IP stack, in virtual time (packetlab_sockets), the clocks read virtual time
(packetlab_clock), and threads take turns (packetlab_threads). Nothing here reads a real
clock or opens a real network socket.
"""

import builtins
import errno as _errno
import io
import os
import runpy
import sys
import traceback

import packetlab_bridge as bridge
import packetlab_clock
import packetlab_sockets
import packetlab_threads
import packetlab_tls


class _Output(io.TextIOBase):
    """The program's standard output or error, recorded by the simulator in order."""

    def __init__(self, stream):
        super().__init__()
        self._stream = stream
        self.buffer = _BinaryOutput(self)

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if text:
            bridge.say({"op": "print", "stream": self._stream, "text": text})
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def fileno(self):
        return 1 if self._stream == "stdout" else 2

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "strict"


class _BinaryOutput(io.RawIOBase):
    """`sys.stdout.buffer`: bytes written as text."""

    def __init__(self, text):
        super().__init__()
        self._text = text

    def writable(self):
        return True

    def write(self, data):
        self._text.write(bytes(data).decode("utf-8", "replace"))
        return len(data)


def _input(prompt=""):
    """`input()`, echoing the line it reads as a terminal would, so the transcript reads like
    the learner's own terminal."""
    sys.stdout.write(str(prompt))
    line = sys.stdin.readline()
    if not line:
        raise EOFError("EOF when reading a line")
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    return line.rstrip("\n")


def _without_our_frames(report):
    """The report with packetlab's frames left out (each exception it chains is a report
    of its own, made by the same constructor)."""
    kept = [frame for frame in report.stack if not bridge.ours(frame.filename)]
    # A program run from a copy (its user could not read the original) is shown as itself.
    shown = os.environ.get("PACKETLAB_PROGRAM_SHOWN_AS")
    copy = os.path.abspath(bridge.program) if bridge.program else None
    for frame in kept:
        if shown and frame.filename == copy:
            _ = frame.line  # read from the copy before the name changes
            frame.filename = shown
    report.stack = traceback.StackSummary.from_list(kept)


_real_traceback_init = traceback.TracebackException.__init__


def _traceback_init(self, *args, **kwargs):
    """Every traceback a program prints (socketserver's, asyncio's, logging's) is the one
    CPython would print: packetlab's frames are not there, as C code has none."""
    _real_traceback_init(self, *args, **kwargs)
    _without_our_frames(self)


def _print_traceback():
    """The traceback CPython would print for an exception the program did not catch."""
    report = traceback.TracebackException(*sys.exc_info())
    sys.stderr.write("".join(report.format()))


def _refusal_ended(exception):
    """Whether an exception that ended the program is (or was raised from) a refusal."""
    seen = set()
    while exception is not None and id(exception) not in seen:
        if any(exception is r for r in bridge.refusals):
            return True
        seen.add(id(exception))
        exception = exception.__cause__ or exception.__context__
    return False


def _refuse_multiprocessing():
    try:
        import multiprocessing.process as _process
    except ImportError:
        return

    def start(self):
        bridge.refuse("multiprocessing", _errno.ENOSYS, "(its processes would be real ones)")

    _process.BaseProcess.start = start


def _install():
    packetlab_sockets.install()
    packetlab_clock.install()
    packetlab_threads.install(_print_traceback)
    packetlab_tls.install()
    one_process = "(it runs each program as one process, and could not follow another)"
    os.fork = bridge.unsupported("os.fork", one_process)
    if hasattr(os, "forkpty"):
        os.forkpty = bridge.unsupported("os.forkpty", one_process)
    _refuse_multiprocessing()
    traceback.TracebackException.__init__ = _traceback_init
    sys.stdout = _Output("stdout")
    sys.stderr = _Output("stderr")
    builtins.input = _input


def main():
    if len(sys.argv) < 2:
        print("usage: packetlab_shim.py PROGRAM [ARGS...]", file=sys.__stderr__)
        sys.exit(2)
    bridge.program = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path[0] = os.path.dirname(os.path.abspath(bridge.program))
    bridge.channel()
    _install()
    status = 0
    exception = None
    refused = False
    try:
        runpy.run_path(bridge.program, run_name="__main__")
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
    except BaseException as e:
        _print_traceback()
        status = 1
        exception = type(e).__name__
        refused = _refusal_ended(e)
    packetlab_tls.keylog.harvest()
    packetlab_tls.keylog.remove()
    bridge.say({"op": "exit", "status": status, "exception": exception, "refused": refused})
    os._exit(status)


if __name__ == "__main__":
    main()
