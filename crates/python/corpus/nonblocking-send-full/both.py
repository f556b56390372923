import select
import socket

server = socket.socket()
server.bind(('127.0.0.1', 9063))
server.listen()
c = socket.create_connection(('127.0.0.1', 9063))
conn, _ = server.accept()
c.setblocking(False)
sent = 0
try:
    while True:
        sent += c.send(b'x' * 65536)
except BlockingIOError as e:
    print('full after more than 64 KiB:', sent > 65536, 'errno', e.errno)
_, writable, _ = select.select([], [c], [], 0)
print('writable while full:', bool(writable))
drained = 0
while drained < sent:
    drained += len(conn.recv(1 << 20))
_, writable, _ = select.select([], [c], [], 1)
print('writable once read:', bool(writable))
