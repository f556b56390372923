"""packetlab's stand-in for the socket layer of a Python program.

`python3 packetlab_shim.py PROGRAM [ARGS...]` runs PROGRAM unmodified, with `socket.socket`,
`time.sleep`, `time.time`, `time.monotonic` and `time.perf_counter` served by packetlab's
simulator over the Unix socket named in PACKETLAB_BRIDGE: every socket call becomes a call on
packetlab's own TCP/IP stack, in virtual time. Each call names the program's line that made
it, so that the trace can show it beside the transition it caused.

One request, one reply, as JSON lines; bytes travel as hex. Nothing here reads a clock or
opens a real socket.
"""

import builtins
import errno as _errno
import io
import itertools
import json
import linecache
import os
import runpy
import socket as _socket
import sys
import threading
import time as _time
import traceback

_BRIDGE = os.environ.get("PACKETLAB_BRIDGE")
_PROGRAM = None  # the program's path, as given
_local = threading.local()


class _Channel:
    """This thread's connection to the simulator."""

    def __init__(self, hello):
        raw = _RealSocket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        raw.connect(_BRIDGE)
        self.reader = raw.makefile("rb")
        self.raw = raw
        self.call(hello)

    def call(self, request):
        self.raw.sendall((json.dumps(request) + "\n").encode())
        line = self.reader.readline()
        if not line:
            os._exit(3)  # the simulator has gone: nothing sensible is left to do
        return json.loads(line)


_RealSocket = _socket.socket


def _channel():
    channel = getattr(_local, "channel", None)
    if channel is None:
        name = threading.current_thread().name
        channel = _Channel({"op": "hello", "thread": name})
        _local.channel = channel
    return channel


def _where():
    """The program's own line that made the current call: `server.py:14 conn.close()`."""
    frame = sys._getframe(2)
    fallback = None
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename != __file__:
            if fallback is None:
                fallback = frame
            if os.path.abspath(filename) == os.path.abspath(_PROGRAM):
                break
        frame = frame.f_back
    frame = frame or fallback
    if frame is None:
        return ""
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    name = os.path.basename(frame.f_code.co_filename)
    return f"{name}:{frame.f_lineno} {code}"


def _raise(reply):
    err = reply["err"]
    if err == "timeout":
        raise TimeoutError("timed out")
    number = getattr(_errno, err, 0)
    message = os.strerror(number) if number else reply.get("msg", err)
    kind = {
        "ECONNREFUSED": ConnectionRefusedError,
        "ECONNRESET": ConnectionResetError,
        "EPIPE": BrokenPipeError,
        "ECONNABORTED": ConnectionAbortedError,
        "ETIMEDOUT": TimeoutError,
    }.get(err, OSError)
    raise kind(number, message)


def _call(op, **fields):
    request = {"op": op, "at": _where()}
    request.update(fields)
    reply = _channel().call(request)
    if "err" in reply:
        _raise(reply)
    return reply.get("ok")


class socket:
    """A socket of packetlab's stack, with the methods of Python's `socket.socket`."""

    def __init__(self, family=_socket.AF_INET, type=_socket.SOCK_STREAM, proto=0, fileno=None):
        if family != _socket.AF_INET:
            name = getattr(family, "name", family)
            _refuse(name, _errno.EAFNOSUPPORT, "(only AF_INET)")
        kind = int(type) & 0xF
        if kind not in (_socket.SOCK_STREAM, _socket.SOCK_DGRAM):
            name = getattr(_socket.SocketKind(kind), "name", kind)
            _refuse(name, _errno.EPROTONOSUPPORT, "(only SOCK_STREAM and SOCK_DGRAM)")
        self.family = family
        self.type = _socket.SocketKind(kind)
        self.proto = proto
        self._timeout = _socket.getdefaulttimeout()
        self._closed = False
        if fileno is None:
            fileno = _call("socket", kind="stream" if kind == _socket.SOCK_STREAM else "dgram")
        self._fd = fileno

    def __repr__(self):
        return f"<packetlab socket fd={self._fd}, family={self.family!r}, type={self.type!r}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def fileno(self):
        return self._fd

    def _blocking(self):
        return None if self._timeout is None else float(self._timeout)

    def _wait(self, op, **fields):
        """A call that may block: with `setblocking(False)` it raises BlockingIOError (EAGAIN)
        instead of waiting, as CPython does; with a timeout, TimeoutError once it passes."""
        try:
            return _call(op, fd=self._fd, timeout=self._blocking(), **fields)
        except TimeoutError:
            if self._timeout == 0.0:
                raise BlockingIOError(_errno.EAGAIN, "Resource temporarily unavailable") from None
            raise

    def settimeout(self, value):
        self._timeout = None if value is None else float(value)

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def getblocking(self):
        return self._timeout != 0.0

    def setsockopt(self, level, option, value, *rest):
        names = {
            (_socket.SOL_SOCKET, _socket.SO_REUSEADDR): "SO_REUSEADDR",
            (_socket.IPPROTO_TCP, _socket.TCP_NODELAY): "TCP_NODELAY",
        }
        name = names.get((level, option))
        if name is None:
            raise OSError(_errno.ENOPROTOOPT, f"packetlab simulates SO_REUSEADDR and TCP_NODELAY, not option {option}")
        _call("setsockopt", fd=self._fd, opt=name, value=int(value))

    def getsockopt(self, level, option, *rest):
        names = {
            (_socket.SOL_SOCKET, _socket.SO_REUSEADDR): "SO_REUSEADDR",
            (_socket.IPPROTO_TCP, _socket.TCP_NODELAY): "TCP_NODELAY",
            (_socket.SOL_SOCKET, _socket.SO_TYPE): "SO_TYPE",
        }
        name = names.get((level, option))
        if name == "SO_TYPE":
            return int(self.type)
        if name is None:
            raise OSError(_errno.ENOPROTOOPT, f"packetlab simulates SO_REUSEADDR and TCP_NODELAY, not option {option}")
        return _call("getsockopt", fd=self._fd, opt=name)

    def bind(self, address):
        host, port = address
        _call("bind", fd=self._fd, host=host or "0.0.0.0", port=int(port))

    def listen(self, backlog=128):
        _call("listen", fd=self._fd, backlog=int(backlog))

    def accept(self):
        fd, host, port = self._wait("accept")
        conn = socket(self.family, self.type, fileno=fd)
        conn._timeout = _socket.getdefaulttimeout()
        return conn, (host, port)

    def connect(self, address):
        host, port = address
        self._wait("connect", host=_resolve(host), port=int(port))

    def connect_ex(self, address):
        try:
            self.connect(address)
        except OSError as e:
            return e.errno or _errno.EIO
        return 0

    def send(self, data, flags=0):
        data = bytes(data)
        return self._wait("send", data=data.hex())

    def sendall(self, data, flags=0):
        data = memoryview(bytes(data))
        while len(data):
            # No more than a send buffer's worth a call: the rest would only travel back.
            n = self.send(data[:65536])
            data = data[n:]

    def recv(self, bufsize, flags=0):
        return bytes.fromhex(self._wait("recv", max=int(bufsize)))

    def recv_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer)
        data = self.recv(nbytes or len(view))
        view[: len(data)] = data
        return len(data)

    def sendto(self, data, *args):
        address = args[-1]
        host, port = address
        return _call("sendto", fd=self._fd, data=bytes(data).hex(), host=_resolve(host), port=int(port))

    def recvfrom(self, bufsize, flags=0):
        data, host, port = self._wait("recvfrom", max=int(bufsize))
        return bytes.fromhex(data), (host, port)

    def shutdown(self, how):
        _call("shutdown", fd=self._fd, how=int(how))

    def close(self):
        if not self._closed:
            self._closed = True
            _call("close", fd=self._fd)

    def detach(self):
        self._closed = True
        return self._fd

    def getsockname(self):
        host, port = _call("getsockname", fd=self._fd)
        return (host, port)

    def getpeername(self):
        host, port = _call("getpeername", fd=self._fd)
        return (host, port)

    def makefile(self, mode="r", buffering=None, *, encoding=None, errors=None, newline=None):
        raw = _SocketIO(self, mode)
        binary = "b" in mode
        if buffering is None:
            buffering = -1
        if buffering == 0:
            return raw
        buffer_size = io.DEFAULT_BUFFER_SIZE if buffering < 0 else buffering
        if "r" in mode and "w" in mode:
            buffered = io.BufferedRWPair(raw, raw, buffer_size)
        elif "w" in mode:
            buffered = io.BufferedWriter(raw, buffer_size)
        else:
            buffered = io.BufferedReader(raw, buffer_size)
        if binary:
            return buffered
        return io.TextIOWrapper(buffered, encoding, errors, newline)


class _SocketIO(io.RawIOBase):
    """Raw I/O on a socket, for `makefile` (socketserver's rfile and wfile)."""

    def __init__(self, sock, mode):
        super().__init__()
        self._sock = sock
        self._mode = mode

    def readinto(self, b):
        return self._sock.recv_into(b)

    def write(self, b):
        return self._sock.send(b)

    def readable(self):
        return "r" in self._mode

    def writable(self):
        return "w" in self._mode

    def fileno(self):
        return self._sock.fileno()


def _resolve(host):
    if host in ("localhost", ""):
        return "127.0.0.1"
    return host


def create_connection(address, timeout=_socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None, **kwargs):
    sock = socket(_socket.AF_INET, _socket.SOCK_STREAM)
    if timeout is not _socket._GLOBAL_DEFAULT_TIMEOUT:
        sock.settimeout(timeout)
    if source_address:
        sock.bind(source_address)
    sock.connect(address)
    return sock


def create_server(address, *, family=_socket.AF_INET, backlog=None, reuse_port=False, dualstack_ipv6=False):
    sock = socket(family, _socket.SOCK_STREAM)
    sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.listen(128 if backlog is None else backlog)
    return sock


def _fd(obj):
    return obj if isinstance(obj, int) else obj.fileno()


def _select(rlist, wlist, xlist, timeout=None):
    """`select.select` on packetlab's sockets, in virtual time."""
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be non-negative")
    readers = {_fd(o): o for o in rlist}
    writers = {_fd(o): o for o in wlist}
    r, w = _call(
        "select",
        read=list(readers),
        write=list(writers),
        timeout=None if timeout is None else float(timeout),
    )
    return [readers[f] for f in r], [writers[f] for f in w], []


def _sleep(seconds):
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    _call("sleep", secs=float(seconds))


def _now():
    return float(_call("time"))


class _Output(io.TextIOBase):
    """The program's standard output or error, recorded by the simulator in order."""

    def __init__(self, stream):
        super().__init__()
        self._stream = stream

    def write(self, text):
        if text:
            _channel().call({"op": "print", "stream": self._stream, "text": str(text)})
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    @property
    def encoding(self):
        return "utf-8"


def _input(prompt=""):
    """`input()`, echoing the line it reads as a terminal would, so the transcript reads like
    the learner's own terminal."""
    sys.stdout.write(str(prompt))
    line = sys.stdin.readline()
    if not line:
        raise EOFError("EOF when reading a line")
    sys.stdout.write(line if line.endswith("\n") else line + "\n")
    return line.rstrip("\n")


_real_start = threading.Thread.start
_real_join = threading.Thread.join


def _thread_start(self):
    """Start a thread that waits for packetlab's word before its first line runs, and runs
    only while every other thread of the program waits in a call to packetlab."""
    self._packetlab_id = _call("spawn", name=self.name)
    body = self.run

    def run():
        _channel()
        try:
            body()
        except BaseException:
            sys.stderr.write(f"Exception in thread {self.name}:\n")
            _print_traceback()
        finally:
            _channel().call({"op": "thread_exit"})

    self.run = run
    _real_start(self)


def _thread_join(self, timeout=None):
    ident = getattr(self, "_packetlab_id", None)
    if ident is not None:
        _call("join", thread=ident, timeout=None if timeout is None else float(timeout))
    _real_join(self, timeout)


_RealCondition = threading.Condition
_real_lock = threading.Lock
_real_thread_init = threading.Thread.__init__
_lock_numbers = itertools.count(1)


class _Lock:
    """threading.Lock for threads that take turns: a thread that finds it taken waits in
    packetlab (in virtual time, its timeout too), so that the holder can run and release it."""

    def __init__(self):
        self._locked = False
        self._number = next(_lock_numbers)
        self._waiters = 0
        self._releases = 0

    def acquire(self, blocking=True, timeout=-1):
        if not self._locked:
            self._locked = True
            return True
        if not blocking:
            return False
        self._waiters += 1
        try:
            while self._locked:
                seen = self._releases
                got = _call("lock_wait", lock=self._number, seen=seen,
                            timeout=None if timeout is None or timeout < 0 else float(timeout))
                if not got:
                    return False
        finally:
            self._waiters -= 1
        self._locked = True
        return True

    def release(self):
        if not self._locked:
            raise RuntimeError("release unlocked lock")
        self._locked = False
        self._releases += 1
        if self._waiters:
            _call("lock_release", lock=self._number, releases=self._releases)

    def locked(self):
        return self._locked

    def _at_fork_reinit(self):
        self._locked = False

    __enter__ = acquire
    acquire_lock = acquire
    release_lock = release
    locked_lock = locked

    def __exit__(self, *exc):
        self.release()

    def __repr__(self):
        state = "locked" if self._locked else "unlocked"
        return f"<packetlab {state} lock {self._number}>"


class _RLock:
    """threading.RLock over a packetlab lock: the owner may take it again."""

    def __init__(self):
        self._lock = _Lock()
        self._owner = None
        self._count = 0

    def acquire(self, blocking=True, timeout=-1):
        me = threading.get_ident()
        if self._owner == me:
            self._count += 1
            return True
        if not self._lock.acquire(blocking, timeout):
            return False
        self._owner, self._count = me, 1
        return True

    def release(self):
        if self._owner != threading.get_ident():
            raise RuntimeError("cannot release un-acquired lock")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()

    # What threading.Condition asks of an RLock.
    def _is_owned(self):
        return self._owner == threading.get_ident()

    def _release_save(self):
        state = (self._owner, self._count)
        self._owner, self._count = None, 0
        self._lock.release()
        return state

    def _acquire_restore(self, state):
        self._lock.acquire()
        self._owner, self._count = state

    def _at_fork_reinit(self):
        self.__init__()


class _Condition(_RealCondition):
    """threading.Condition whose waiters wait in packetlab."""

    def __init__(self, lock=None):
        super().__init__(_RLock() if lock is None else lock)

    def wait(self, timeout=None):
        if not self._is_owned():
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = _Lock()
        waiter.acquire()
        self._waiters.append(waiter)
        saved = self._release_save()
        got = False
        try:
            got = waiter.acquire(True, -1 if timeout is None else timeout)
            return got
        finally:
            self._acquire_restore(saved)
            if not got:
                try:
                    self._waiters.remove(waiter)
                except ValueError:
                    pass


def _thread_init(self, *args, **kwargs):
    """A thread's own start-up handshake stays on real locks: it happens outside the turns."""
    _real_thread_init(self, *args, **kwargs)
    started = self._started
    started._cond = _RealCondition(_real_lock())


def _ours(filename):
    """Whether a frame is packetlab's (this shim, or runpy starting the program)."""
    return filename == __file__ or filename.startswith("<frozen ")


def _without_our_frames(report, seen):
    """The report with packetlab's frames left out, and those of the exceptions it chains."""
    if report is None or id(report) in seen:
        return
    seen.add(id(report))
    kept = [frame for frame in report.stack if not _ours(frame.filename)]
    # A program run from a copy (its user could not read the original) is shown as itself.
    shown = os.environ.get("PACKETLAB_PROGRAM_SHOWN_AS")
    copy = os.path.abspath(_PROGRAM) if _PROGRAM else None
    for frame in kept:
        if shown and frame.filename == copy:
            _ = frame.line  # read from the copy before the name changes
            frame.filename = shown
    report.stack = traceback.StackSummary.from_list(kept)
    _without_our_frames(report.__cause__, seen)
    _without_our_frames(report.__context__, seen)


def _print_traceback():
    """The traceback CPython would print for the program run on its own: the program's frames
    only, so an error raised by a socket call ends at the program's line, as it does when the
    call is C code."""
    report = traceback.TracebackException(*sys.exc_info())
    _without_our_frames(report, set())
    sys.stderr.write("".join(report.format()))


def _refuse(what, number, why):
    """Tell packetlab, then raise at the program's line: the run cannot be what it would be."""
    _call("not_simulated", what=str(what))
    raise OSError(number, f"{what} is not simulated by packetlab {why}")


def _unsupported(what):
    def refuse(*args, **kwargs):
        _refuse(what, _errno.ENOSYS, "yet")

    return refuse


def _install():
    _socket.socket = socket
    _socket.create_connection = create_connection
    _socket.create_server = create_server
    _socket.fromfd = _unsupported("socket.fromfd")
    _socket.socketpair = _unsupported("socket.socketpair")
    _time.sleep = _sleep
    _time.time = _now
    _time.monotonic = _now
    _time.perf_counter = _now
    os.fork = _unsupported("os.fork")
    import select as _select_module
    import selectors as _selectors

    # `select` and every selector (so socketserver's too) wait on packetlab's sockets.
    _select_module.select = _select
    _select_module.poll = _unsupported("select.poll")
    _selectors.SelectSelector._select = staticmethod(_select)
    for name in ("PollSelector", "EpollSelector", "DevpollSelector", "KqueueSelector"):
        if hasattr(_selectors, name):
            delattr(_selectors, name)
    _selectors.DefaultSelector = _selectors.SelectSelector
    # Threads run one at a time, switching only at calls to packetlab.
    threading.Thread.start = _thread_start
    threading.Thread.join = _thread_join
    threading.Thread.__init__ = _thread_init
    # Locks are where threads may wait for each other, so they wait in packetlab too; Event,
    # Semaphore, Barrier and queue.Queue are built on these.
    threading.Lock = _Lock
    threading.RLock = _RLock
    threading.Condition = _Condition
    sys.stdout = _Output("stdout")
    sys.stderr = _Output("stderr")
    builtins.input = _input


def main():
    global _PROGRAM
    if len(sys.argv) < 2:
        print("usage: packetlab_shim.py PROGRAM [ARGS...]", file=sys.__stderr__)
        sys.exit(2)
    _PROGRAM = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(_PROGRAM)))
    _channel()
    _install()
    status = 0
    exception = None
    try:
        runpy.run_path(_PROGRAM, run_name="__main__")
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        if not isinstance(e.code, int) and e.code is not None:
            print(e.code, file=sys.stderr)
    except BaseException as e:
        _print_traceback()
        status = 1
        exception = type(e).__name__
    _channel().call({"op": "exit", "status": status, "exception": exception})
    os._exit(status)


if __name__ == "__main__":
    main()
