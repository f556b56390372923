import socket
import time

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 9031))
server.listen()
c = socket.create_connection(('127.0.0.1', 9031))
conn, _ = server.accept()


def arrived(timeout):
    conn.settimeout(timeout)
    try:
        return conn.recv(100)
    except socket.timeout:
        return 'nothing'


print('TCP_CORK', c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
print('TCP_CORK', c.getsockopt(socket.IPPROTO_TCP, socket.TCP_CORK))
c.send(b'hello ')
print('corked, 50 ms later:', arrived(0.05))
c.send(b'world')
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 0)
print('uncorked:', arrived(1))

c.send(b'more', socket.MSG_MORE)
print('MSG_MORE, 50 ms later:', arrived(0.05))
c.send(b'!')
print('then a send without it:', arrived(1))

# Held data leaves by itself when nothing is in flight: the probe timer, an RTO later.
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
start = time.monotonic()
c.send(b'late')
print('corked again, then:', arrived(2))
print('after about 200 ms:', 0.15 < time.monotonic() - start < 0.5)

c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
c.send(b'x')
print('corked with TCP_NODELAY set later:', arrived(0.05))
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print('TCP_NODELAY set again flushes:', arrived(1))
