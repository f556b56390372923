import socket
import struct


def recv_exactly(conn, n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise ConnectionError('closed early')
        data += chunk
    return data


server = socket.socket()
server.bind(('127.0.0.1', 9028))
server.listen()
conn, _ = server.accept()
while True:
    header = conn.recv(4, socket.MSG_WAITALL)
    if not header:
        break
    (length,) = struct.unpack('i', header)
    print('message', recv_exactly(conn, length))
