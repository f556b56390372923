"""TLS over packetlab's sockets: `SSLContext.wrap_socket` gives an SSLSocket whose TLS runs
in CPython's `ssl` module through memory buffers (`SSLObject`), its records carried by a
packetlab socket, so HTTPS and TLS programs run as on Linux. asyncio's TLS uses those
memory buffers already.

The session keys OpenSSL derives (its key log, the NSS format `SSLKEYLOGFILE` writes) go to
packetlab as soon as they exist, before the records they protect are sent: the capture
carries them in a Decryption Secrets Block, so Wireshark shows the decrypted data.
"""

import os
import ssl as _ssl
import tempfile

import packetlab_sockets
from packetlab_bridge import say

_BUFFER = 1 << 16


class _KeyLog:
    """OpenSSL's key log of every context of the program, read as it grows."""

    def __init__(self):
        self.path = None
        self.fd = None

    def attach(self, context):
        if context.keylog_filename is not None:
            return
        if self.path is None:
            fd, self.path = tempfile.mkstemp(prefix="packetlab-tls-", suffix=".keys")
            self.fd = fd
            packetlab_sockets.before_send = self.harvest
        context.keylog_filename = self.path

    def harvest(self):
        """Hand packetlab the key log lines written since the last look."""
        if self.fd is None:
            return
        data = b""
        while True:
            chunk = os.read(self.fd, _BUFFER)
            if not chunk:
                break
            data += chunk
        if data:
            say({"op": "tls_keys", "lines": data.decode("ascii", "replace")})

    def remove(self):
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass


keylog = _KeyLog()


class SSLSocket(packetlab_sockets.socket):
    """`ssl.SSLSocket` over a packetlab socket: the TLS engine works on memory buffers."""

    __slots__ = ("_sslobj", "_incoming", "_outgoing", "context", "server_side",
                 "server_hostname", "do_handshake_on_connect", "suppress_ragged_eofs",
                 "_session")

    @classmethod
    def _create(cls, sock, server_side=False, do_handshake_on_connect=True,
                suppress_ragged_eofs=True, server_hostname=None, context=None, session=None):
        if sock.getsockopt(packetlab_sockets._socket.SOL_SOCKET,
                           packetlab_sockets._socket.SO_TYPE) != packetlab_sockets._socket.SOCK_STREAM:
            raise NotImplementedError("only stream sockets are supported")
        if server_side and server_hostname:
            raise ValueError("server_hostname can only be specified in client mode")
        timeout = sock.gettimeout()
        self = cls(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.settimeout(timeout)
        self.context = context
        self.server_side = server_side
        self.server_hostname = context._encode_hostname(server_hostname)
        self.do_handshake_on_connect = do_handshake_on_connect
        self.suppress_ragged_eofs = suppress_ragged_eofs
        self._session = session
        self._sslobj = None
        keylog.attach(context)
        try:
            self.getpeername()
            connected = True
        except OSError:
            connected = False
        if connected:
            self._start()
            if do_handshake_on_connect:
                self.do_handshake()
        return self

    def _start(self):
        self._incoming = _ssl.MemoryBIO()
        self._outgoing = _ssl.MemoryBIO()
        self._sslobj = self.context.wrap_bio(
            self._incoming, self._outgoing, self.server_side, self.server_hostname,
            session=self._session)

    def _flush(self):
        """Send what the TLS engine wrote, all of it."""
        view = memoryview(self._outgoing.read())
        while len(view):
            view = view[packetlab_sockets.socket.send(self, view):]

    def _fill(self):
        """Give the TLS engine what came from the peer, or the end of the stream."""
        data = packetlab_sockets.socket.recv(self, _BUFFER)
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()

    def _drive(self, step):
        """Run one TLS operation, moving records until it completes. At the end of the
        stream the engine is told, and raises what OpenSSL raises then; an alert it wrote
        goes to the peer before its error is raised, as OpenSSL sends it on a real socket."""
        while True:
            try:
                result = step()
            except _ssl.SSLWantReadError:
                self._flush()
                self._fill()
                continue
            except _ssl.SSLError:
                self._flush()
                raise
            self._flush()
            return result

    def do_handshake(self, block=False):
        if self._sslobj is None:
            raise ValueError("handshake on an unconnected socket")
        self._drive(self._sslobj.do_handshake)

    def connect(self, address):
        packetlab_sockets.socket.connect(self, address)
        self._start()
        if self.do_handshake_on_connect:
            self.do_handshake()

    def connect_ex(self, address):
        try:
            self.connect(address)
        except OSError as e:
            return e.errno or 0
        return 0

    def accept(self):
        newsock, address = packetlab_sockets.socket.accept(self)
        return self.context.wrap_socket(
            newsock, do_handshake_on_connect=self.do_handshake_on_connect,
            suppress_ragged_eofs=self.suppress_ragged_eofs, server_side=True), address

    def read(self, len=1024, buffer=None):
        if self._sslobj is None:
            raise ValueError("Read on closed or unwrapped SSL socket.")
        try:
            if buffer is not None:
                return self._drive(lambda: self._sslobj.read(len, buffer))
            return self._drive(lambda: self._sslobj.read(len))
        except _ssl.SSLZeroReturnError:
            return 0 if buffer is not None else b""
        except _ssl.SSLEOFError:
            if self.suppress_ragged_eofs:
                return 0 if buffer is not None else b""
            raise

    def write(self, data):
        if self._sslobj is None:
            raise ValueError("Write on closed or unwrapped SSL socket.")
        return self._drive(lambda: self._sslobj.write(data))

    def recv(self, buflen=1024, flags=0):
        if flags:
            raise ValueError("non-zero flags not allowed in calls to recv() on SSLSocket")
        return self.read(buflen)

    def recv_into(self, buffer, nbytes=None, flags=0):
        if flags:
            raise ValueError("non-zero flags not allowed in calls to recv_into() on SSLSocket")
        view = memoryview(buffer)
        nbytes = nbytes or len(view)
        return self.read(nbytes, view)

    def send(self, data, flags=0):
        if flags:
            raise ValueError("non-zero flags not allowed in calls to send() on SSLSocket")
        return self.write(data)

    def sendall(self, data, flags=0):
        view = memoryview(data)
        while len(view):
            view = view[self.send(view):]

    def recvfrom(self, buflen=1024, flags=0):
        raise ValueError("recvfrom not allowed on instances of SSLSocket")

    def sendto(self, data, flags_or_addr, addr=None):
        raise ValueError("sendto not allowed on instances of SSLSocket")

    def pending(self):
        return self._sslobj.pending() if self._sslobj else 0

    def unwrap(self):
        self._drive(self._sslobj.unwrap)
        self._sslobj = None
        plain = packetlab_sockets.socket(self.family, self.type, self.proto, fileno=self.detach())
        return plain

    def getpeercert(self, binary_form=False):
        return self._sslobj.getpeercert(binary_form)

    def version(self):
        return self._sslobj.version() if self._sslobj else None

    def cipher(self):
        return self._sslobj.cipher() if self._sslobj else None

    def shared_ciphers(self):
        return self._sslobj.shared_ciphers() if self._sslobj else None

    def compression(self):
        return self._sslobj.compression() if self._sslobj else None

    def selected_alpn_protocol(self):
        return self._sslobj.selected_alpn_protocol() if self._sslobj else None

    def get_channel_binding(self, cb_type="tls-unique"):
        return self._sslobj.get_channel_binding(cb_type) if self._sslobj else None

    @property
    def session(self):
        return self._sslobj.session if self._sslobj else self._session

    @property
    def session_reused(self):
        return self._sslobj.session_reused if self._sslobj else None


_real_wrap_bio = _ssl.SSLContext.wrap_bio


def _wrap_bio(self, incoming, outgoing, server_side=False, server_hostname=None, session=None):
    """asyncio's TLS: its keys are logged too."""
    keylog.attach(self)
    return _real_wrap_bio(self, incoming, outgoing, server_side, server_hostname, session)


def install():
    _ssl.SSLContext.sslsocket_class = SSLSocket
    _ssl.SSLSocket = SSLSocket
    _ssl.SSLContext.wrap_bio = _wrap_bio
