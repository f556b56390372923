import socket
import struct

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 7100))
server.listen(1)
client = socket.socket()
client.connect(('127.0.0.1', 7100))
conn, _ = server.accept()
# SO_LINGER is not simulated; a close with unread data resets instead, as on Linux.
conn.sendall(b'unread')
client.close()
try:
    conn.recv(10)
    conn.send(b'x')
    conn.send(b'y')
except (ConnectionResetError, BrokenPipeError) as e:
    print(type(e).__name__, e.errno)
print(conn.getsockname(), server.getsockname())
