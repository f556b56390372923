"""packetlab's `socket.socket`, `socket.socketpair`, `getaddrinfo` and `select`: the same
methods and behaviour as CPython's on Linux, each call made on packetlab's own stack.

Where CPython's own socket.py does the work in Python (makefile and its reference counts,
`__repr__`, `create_connection`, `create_server`), its code is used as it is, over these
sockets.
"""

import errno as _errno
import io
import os
import select as _select_module
import selectors as _selectors
import socket as _socket
import struct

from packetlab_bridge import call, close_later, refuse, say, unsupported

_CPython = _socket.socket
# Called before any data leaves (TLS hands packetlab the keys for what it sends).
before_send = None
_MSG_DONTWAIT = _socket.MSG_DONTWAIT
# Linux's flags that packetlab takes; the others it refuses by name.
_FLAGS_TAKEN = (_socket.MSG_PEEK | _socket.MSG_WAITALL | _socket.MSG_DONTWAIT | _socket.MSG_NOSIGNAL
                | _socket.MSG_MORE)

# The options packetlab simulates, by (level, option): their names travel.
_OPTIONS = {}
_PREFIXES = {
    _socket.SOL_SOCKET: "SO_",
    _socket.IPPROTO_TCP: "TCP_",
    _socket.IPPROTO_IP: "IP_",
    _socket.IPPROTO_IPV6: "IPV6_",
}
for _level, _prefix in _PREFIXES.items():
    for _name in (
        "SO_REUSEADDR", "SO_KEEPALIVE", "SO_RCVBUF", "SO_SNDBUF", "SO_LINGER", "SO_ERROR",
        "SO_BROADCAST", "SO_ACCEPTCONN", "TCP_NODELAY", "TCP_MAXSEG", "TCP_KEEPIDLE",
        "TCP_KEEPINTVL", "TCP_KEEPCNT", "TCP_QUICKACK", "TCP_CORK", "IP_TTL", "IPV6_V6ONLY",
    ):
        if _name.startswith(_prefix) and hasattr(_socket, _name):
            _OPTIONS[(_level, getattr(_socket, _name))] = _name


def _option_name(level, option):
    """The name of an option packetlab does not simulate, for its refusal."""
    for name in dir(_socket):
        if name.startswith(_PREFIXES.get(level, "?")) and getattr(_socket, name) == option:
            return name
    return f"option {option} of level {level}"


# The names packetlab py's host knows: Debian's /etc/hosts, as a fresh Linux has it, line by
# line. A name not in it is looked up in DNS, which the simulated network does not have.
_HOSTS = (
    ("127.0.0.1", _socket.AF_INET, ("localhost",)),
    ("::1", _socket.AF_INET6, ("localhost", "ip6-localhost", "ip6-loopback")),
)
_EAI_ADDRFAMILY = getattr(_socket, "EAI_ADDRFAMILY", -9)


def _from_hosts(name, family):
    """The hosts table's addresses for `name`, as glibc's files backend gives them: for
    AF_INET, a line of ::1 as 127.0.0.1 (so `localhost` is 127.0.0.1 twice); for both
    families, IPv6's first (RFC 6724 §6 rule 6: ::1's precedence 50 is above IPv4's 35)."""
    lines = [(a, af) for a, af, names in _HOSTS if name.lower() in names]
    if family == _socket.AF_INET:
        return [(a if af == family else "127.0.0.1", family) for a, af in lines]
    v6 = [line for line in lines if line[1] == _socket.AF_INET6]
    return v6 if family else v6 + [line for line in lines if line[1] == _socket.AF_INET]


def _numeric(host):
    """A numeric address as (text, family), IPv6 without its zone; None for a name."""
    try:
        _socket.inet_aton(host)
        return host, _socket.AF_INET
    except (OSError, TypeError, ValueError):
        pass
    try:
        packed = _socket.inet_pton(_socket.AF_INET6, host.split("%", 1)[0])
        return _socket.inet_ntop(_socket.AF_INET6, packed), _socket.AF_INET6
    except (OSError, TypeError, ValueError):
        return None


def _resolve(host, family=0):
    """The addresses `host` stands for, as glibc's getaddrinfo answers on Linux: a number
    as it is, a name from the hosts table; those of `family` (0: both)."""
    found = _numeric(host)
    if found is not None:
        if family and found[1] != family:
            raise _socket.gaierror(_EAI_ADDRFAMILY, "Address family for hostname not supported")
        return [found]
    named = _from_hosts(str(host), family)
    if not named:
        # What Linux says with no name server to ask (a network namespace's lo).
        raise _socket.gaierror(_socket.EAI_AGAIN, "Temporary failure in name resolution")
    return named


def _host(host, family=_socket.AF_INET, udp=False):
    """The address a socket of `family` takes for `host`, as CPython's setipaddr finds it:
    '' is every address, '<broadcast>' IPv4's broadcast, else what getaddrinfo says first."""
    if host in ("", None):
        return "0.0.0.0" if family == _socket.AF_INET else "::"
    if host == "<broadcast>" and udp and family == _socket.AF_INET:
        return "255.255.255.255"
    return _resolve(host, family)[0][0]


def _address(address, family, caller, udp=False):
    """`(host, port)` of an AF_INET address or `(host, port[, flowinfo[, scope_id]])` of an
    AF_INET6 one, checked as CPython checks it."""
    name = "AF_INET6" if family == _socket.AF_INET6 else "AF_INET"
    if not isinstance(address, tuple):
        raise TypeError(f"{caller}(): {name} address must be tuple, not "
                        f"{type(address).__name__}")
    if name == "AF_INET" and len(address) != 2:
        raise TypeError("AF_INET address must be a pair (host, port)")
    if name == "AF_INET6" and not 2 <= len(address) <= 4:
        raise TypeError("AF_INET6 address must be a tuple (host, port[, flowinfo[, scopeid]])")
    host, port = address[:2]
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise OverflowError(f"{caller}(): port must be 0-65535.")
    return _host(host, family, udp), port


class socket:
    """A socket of packetlab's stack, with the methods of CPython's `socket.socket`."""

    __module__ = "socket"
    __qualname__ = "socket"
    __slots__ = ["__weakref__", "family", "type", "proto", "_fd", "_timeout", "_io_refs",
                 "_closed"]

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if family == -1:
            family = _socket.AF_INET
        if type == -1:
            type = _socket.SOCK_STREAM
        if proto == -1:
            proto = 0
        kind = int(type) & 0xF
        nonblocking = int(type) & getattr(_socket, "SOCK_NONBLOCK", 0)
        self._closed = True  # until it is made, so that a failure leaves nothing to close
        self._io_refs = 0
        self._fd = -1
        if family not in (_socket.AF_INET, _socket.AF_INET6, _socket.AF_UNIX) or (
            family == _socket.AF_UNIX and fileno is None
        ):
            name = getattr(family, "name", family)
            refuse(name, _errno.EAFNOSUPPORT, "(only AF_INET and AF_INET6)")
        if kind not in (_socket.SOCK_STREAM, _socket.SOCK_DGRAM):
            name = getattr(_socket.SocketKind(kind), "name", kind)
            refuse(name, _errno.EPROTONOSUPPORT, "(only SOCK_STREAM and SOCK_DGRAM)")
        self.family = _socket.AddressFamily(family)
        self.type = _socket.SocketKind(kind)
        self.proto = proto
        self._timeout = 0.0 if nonblocking else _socket.getdefaulttimeout()
        if fileno is None:
            fileno = call("socket", kind="stream" if kind == _socket.SOCK_STREAM else "dgram",
                          family="inet6" if family == _socket.AF_INET6 else "inet")
        self._fd = fileno
        self._closed = False

    # CPython's own code for what is plain Python there.
    __repr__ = _CPython.__repr__
    __enter__ = _CPython.__enter__
    __exit__ = _CPython.__exit__
    makefile = _CPython.makefile
    _decref_socketios = _CPython._decref_socketios
    close = _CPython.close
    _check_sendfile_params = _CPython._check_sendfile_params

    def __getstate__(self):
        raise TypeError(f"cannot pickle {self.__class__.__name__!r} object")

    def _real_close(self):
        fd, self._fd = self._fd, -1
        if fd != -1:
            call("close", fd=fd)

    def __del__(self):
        # CPython closes the descriptor of a socket nobody holds any more.
        if getattr(self, "_fd", -1) != -1:
            fd, self._fd = self._fd, -1
            close_later(fd)

    def detach(self):
        self._closed = True
        fd, self._fd = self._fd, -1
        return fd

    def fileno(self):
        return self._fd

    def dup(self):
        refuse("socket.dup", _errno.ENOSYS, "yet")

    def _check(self):
        if self._fd == -1:
            raise OSError(_errno.EBADF, "Bad file descriptor")

    def _wait(self, op, **fields):
        self._check()
        return call(op, fd=self._fd, timeout=self._timeout, **fields)

    # --- modes and options

    def settimeout(self, value):
        if value is not None:
            value = float(value)
            if value < 0:
                raise ValueError("Timeout value out of range")
        self._timeout = value

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self._timeout = None if flag else 0.0

    def getblocking(self):
        return self._timeout != 0.0

    @property
    def timeout(self):
        return self._timeout

    def setsockopt(self, level, option, value, optlen=None):
        self._check()
        name = _OPTIONS.get((level, option))
        if name is None:
            refuse(_option_name(level, option), _errno.ENOPROTOOPT, "(see the README's list)")
        if name == "SO_LINGER":
            onoff, seconds = struct.unpack("ii", bytes(value))
            value = seconds if onoff else -1
        elif isinstance(value, (bytes, bytearray, memoryview)):
            value = int.from_bytes(bytes(value)[:4], "little", signed=True)
        call("setsockopt", fd=self._fd, opt=name, value=int(value))

    def getsockopt(self, level, option, buflen=None):
        self._check()
        if level == _socket.SOL_SOCKET and option == _socket.SO_TYPE:
            return int(self.type)
        if level == _socket.SOL_SOCKET and option == getattr(_socket, "SO_DOMAIN", -1):
            return int(self.family)
        if level == _socket.SOL_SOCKET and option == getattr(_socket, "SO_PROTOCOL", -1):
            return self.proto or (6 if self.type == _socket.SOCK_STREAM else 17)
        name = _OPTIONS.get((level, option))
        if name is None:
            refuse(_option_name(level, option), _errno.ENOPROTOOPT, "(see the README's list)")
        value = call("getsockopt", fd=self._fd, opt=name)
        if name == "SO_LINGER":
            packed = struct.pack("ii", int(value >= 0), max(value, 0))
            return packed[:buflen] if buflen else (value >= 0) * 1
        if buflen:
            return int(value).to_bytes(4, "little", signed=True)[:buflen]
        return value

    # --- addresses

    def bind(self, address):
        self._check()
        if self.family == _socket.AF_UNIX:
            refuse("AF_UNIX", _errno.EAFNOSUPPORT, "(only AF_INET and AF_INET6)")
        host, port = _address(address, self.family, "bind")
        call("bind", fd=self._fd, host=host, port=port)

    def listen(self, backlog=None):
        self._check()
        if backlog is None:
            backlog = min(_socket.SOMAXCONN, 128)
        call("listen", fd=self._fd, backlog=max(int(backlog), 0))

    def _accept(self):
        fd, address = self._wait("accept")
        return fd, tuple(address)

    def accept(self):
        fd, address = self._accept()
        sock = socket(self.family, self.type, self.proto, fileno=fd)
        if _socket.getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)
        return sock, address

    def connect(self, address):
        host, port = _address(address, self.family, "connect", self.type == _socket.SOCK_DGRAM)
        self._wait("connect", host=host, port=port)

    def connect_ex(self, address):
        try:
            self.connect(address)
        except TimeoutError as e:
            return e.errno or _errno.EAGAIN
        except OSError as e:
            return e.errno or _errno.EIO
        return 0

    def getsockname(self):
        self._check()
        name = call("getsockname", fd=self._fd)
        return name if isinstance(name, str) else tuple(name)

    def getpeername(self):
        self._check()
        name = call("getpeername", fd=self._fd)
        return name if isinstance(name, str) else tuple(name)

    # --- data

    def _flags(self, flags):
        if flags & ~_FLAGS_TAKEN:
            refuse(f"flags {flags:#x}", _errno.EOPNOTSUPP, "(only MSG_PEEK, MSG_WAITALL, "
                   "MSG_DONTWAIT, MSG_NOSIGNAL and MSG_MORE)")
        return flags

    def send(self, data, flags=0):
        if before_send is not None:
            before_send()
        data = bytes(memoryview(data))
        return self._wait("send", data=data.hex(), flags=self._flags(flags))

    def sendall(self, data, flags=0):
        data = memoryview(bytes(memoryview(data)))
        if self._timeout is None and not flags & _MSG_DONTWAIT:
            # A blocking send queues everything (as Linux's does): one call.
            self.send(data, flags)
            return None
        deadline = None if not self._timeout else _clock() + self._timeout
        saved = self._timeout
        try:
            while len(data):
                if deadline is not None:
                    left = deadline - _clock()
                    if left <= 0:
                        raise TimeoutError("timed out")
                    self._timeout = left
                data = data[self.send(data, flags):]
        finally:
            self._timeout = saved
        return None

    def sendto(self, data, flags_or_address, address=None):
        if address is None:
            flags, address = 0, flags_or_address
        else:
            flags = flags_or_address
        self._flags(flags)
        self._check()
        if before_send is not None:
            before_send()
        host, port = _address(address, self.family, "sendto", True)
        return call("sendto", fd=self._fd, data=bytes(memoryview(data)).hex(), host=host,
                    port=port)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        if ancdata:
            refuse("ancillary data", _errno.EOPNOTSUPP, "(sendmsg takes none)")
        data = b"".join(bytes(memoryview(b)) for b in buffers)
        if address is not None:
            return self.sendto(data, flags, address)
        return self.send(data, flags)

    def sendfile(self, file, offset=0, count=None):
        """As Linux's sendfile(2) on a blocking socket: the file's bytes, queued whole."""
        self._check_sendfile_params(file, offset, count)
        if self.gettimeout() == 0:
            raise ValueError("non-blocking sockets are not supported")
        if offset:
            file.seek(offset)
        total = 0
        while count is None or total < count:
            chunk = file.read(min(1 << 20, count - total) if count else 1 << 20)
            if not chunk:
                break
            self.sendall(chunk)
            total += len(chunk)
        if total and hasattr(file, "seek"):
            file.seek(offset + total)
        return total

    def recv(self, bufsize, flags=0):
        if bufsize < 0:
            raise ValueError("negative buffersize in recv")
        return bytes.fromhex(self._wait("recv", max=int(bufsize), flags=self._flags(flags)))

    def recv_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer).cast("B")
        if nbytes < 0:
            raise ValueError("negative buffersize in recv_into")
        data = self.recv(nbytes or len(view), flags)
        view[: len(data)] = data
        return len(data)

    def recvfrom(self, bufsize, flags=0):
        data, address = self._wait("recvfrom", max=int(bufsize), flags=self._flags(flags))
        return bytes.fromhex(data), None if address is None else tuple(address)

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer).cast("B")
        data, address = self.recvfrom(nbytes or len(view), flags)
        view[: len(data)] = data
        return len(data), address

    def recvmsg(self, bufsize, ancbufsize=0, flags=0):
        data, address = self.recvfrom(bufsize, flags)
        return data, [], 0, address

    def shutdown(self, how):
        self._check()
        call("shutdown", fd=self._fd, how=int(how))


def _clock():
    return float(call("time"))


def socketpair(family=None, type=_socket.SOCK_STREAM, proto=0):
    """Two sockets joined to each other (an AF_UNIX pair): no packets, as on Linux."""
    if family not in (None, _socket.AF_UNIX):
        refuse(getattr(family, "name", family), _errno.EAFNOSUPPORT, "(socketpair: AF_UNIX)")
    kind = int(type) & 0xF
    a, b = call("socketpair", kind="stream" if kind == _socket.SOCK_STREAM else "dgram")
    return (socket(_socket.AF_UNIX, kind, proto, fileno=a),
            socket(_socket.AF_UNIX, kind, proto, fileno=b))


def _addresses(host, family, flags):
    """getaddrinfo's addresses for `host`: with none, every address (AI_PASSIVE, IPv4's
    first, as glibc lists them) or the loopback ones."""
    if host is None:
        if not flags & _socket.AI_PASSIVE:
            return [(a, af) for a, af, _ in reversed(_HOSTS) if not family or af == family]
        both = (("0.0.0.0", _socket.AF_INET), ("::", _socket.AF_INET6))
        return [a for a in both if not family or a[1] == family]
    host = host.decode() if isinstance(host, bytes) else host
    if host == "" or (flags & _socket.AI_NUMERICHOST and _numeric(host) is None):
        raise _socket.gaierror(_socket.EAI_NONAME, "Name or service not known")
    return _resolve(host, family)


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """As glibc answers on a fresh Linux: names from Debian's hosts table (`localhost` is
    ::1, then 127.0.0.1), numbers as they are, each address for each socket type."""
    if family not in (0, _socket.AF_INET, _socket.AF_INET6):
        raise _socket.gaierror(_socket.EAI_FAMILY, "ai_family not supported")
    addresses = _addresses(host, family, flags)
    if port is None:
        port = 0
    elif isinstance(port, (str, bytes)):
        port = port.decode() if isinstance(port, bytes) else port
        port = int(port) if port.isdigit() else _socket.getservbyname(port)
    kinds = [(_socket.SOCK_STREAM, _socket.IPPROTO_TCP), (_socket.SOCK_DGRAM, _socket.IPPROTO_UDP),
             (_socket.SOCK_RAW, 0)]
    out = []
    for address, af in addresses:
        sockaddr = (address, int(port)) if af == _socket.AF_INET else (address, int(port), 0, 0)
        for kind, number in kinds:
            if (type and type != kind) or (proto and proto != number):
                continue
            canonical = host if flags & _socket.AI_CANONNAME and not out else ""
            out.append((_socket.AddressFamily(af), _socket.SocketKind(kind), number, canonical,
                        sockaddr))
    return out


def gethostbyname(host):
    """An IPv4 address only, as gethostbyname(3) gives."""
    return _host(host)


def _fd(obj):
    return obj if isinstance(obj, int) else obj.fileno()


def select(rlist, wlist, xlist, timeout=None):
    """`select.select` on packetlab's sockets, in virtual time."""
    if timeout is not None and timeout < 0:
        raise ValueError("timeout must be non-negative")
    readers = {_fd(o): o for o in rlist}
    writers = {_fd(o): o for o in wlist}
    r, w = call("select", read=list(readers), write=list(writers),
                timeout=None if timeout is None else float(timeout))
    return [readers[f] for f in r], [writers[f] for f in w], []


class _Poller:
    """What `select.poll` and `select.epoll` keep: descriptors and the events wanted."""

    _IN = _select_module.POLLIN | _select_module.POLLPRI
    _OUT = _select_module.POLLOUT

    def __init__(self):
        self._fds = {}
        self.closed = False

    def register(self, fd, eventmask=None):
        mask = (self._IN | self._OUT) if eventmask is None else eventmask
        self._fds[_fd(fd)] = mask

    def modify(self, fd, eventmask):
        fd = _fd(fd)
        if fd not in self._fds:
            raise FileNotFoundError(_errno.ENOENT, os.strerror(_errno.ENOENT))
        self._fds[fd] = eventmask

    def unregister(self, fd):
        fd = _fd(fd)
        if fd not in self._fds:
            raise KeyError(fd) if isinstance(self, _Poll) else FileNotFoundError(
                _errno.ENOENT, os.strerror(_errno.ENOENT))
        del self._fds[fd]

    def _ready(self, timeout):
        readers = [fd for fd, m in self._fds.items() if m & self._IN]
        writers = [fd for fd, m in self._fds.items() if m & self._OUT]
        r, w = call("select", read=readers, write=writers, timeout=timeout)
        events = {}
        for fd in r:
            events[fd] = events.get(fd, 0) | (self._fds[fd] & self._IN)
        for fd in w:
            events[fd] = events.get(fd, 0) | self._OUT
        return list(events.items())


class _Poll(_Poller):
    """`select.poll()`: a timeout in milliseconds, none or negative for ever."""

    def poll(self, timeout=None):
        seconds = None if timeout is None or timeout < 0 else timeout / 1000
        return self._ready(seconds)


class _Epoll(_Poller):
    """`select.epoll()`, as Linux's `selectors.DefaultSelector` uses it."""

    _IN = _select_module.EPOLLIN | _select_module.EPOLLPRI
    _OUT = _select_module.EPOLLOUT

    def __init__(self, sizehint=-1, flags=0):
        super().__init__()

    def poll(self, timeout=None, maxevents=-1):
        seconds = None if timeout is None or timeout < 0 else float(timeout)
        ready = self._ready(seconds)
        return ready if maxevents is None or maxevents < 0 else ready[:maxevents]

    def register(self, fd, eventmask=None):
        if _fd(fd) in self._fds:
            raise FileExistsError(_errno.EEXIST, os.strerror(_errno.EEXIST))
        super().register(fd, eventmask)

    def close(self):
        self.closed = True

    def fileno(self):
        return -1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def install():
    """Put packetlab's sockets and select where a program finds them."""
    _socket.socket = socket
    _socket.SocketType = socket
    _socket.socketpair = socketpair
    _socket.getaddrinfo = getaddrinfo
    _socket.gethostbyname = gethostbyname
    _socket.fromfd = unsupported("socket.fromfd")
    _select_module.select = select
    _select_module.poll = _Poll
    _select_module.epoll = _Epoll
    for name in ("devpoll", "kqueue"):
        if hasattr(_select_module, name):
            delattr(_select_module, name)
    # Every selector waits on packetlab's sockets; the default is epoll's, as on Linux.
    _selectors.SelectSelector._select = staticmethod(select)
    _selectors.PollSelector._selector_cls = _Poll
    _selectors.EpollSelector._selector_cls = _Epoll
    for name in ("DevpollSelector", "KqueueSelector"):
        if hasattr(_selectors, name):
            delattr(_selectors, name)
    _selectors.DefaultSelector = _selectors.EpollSelector
