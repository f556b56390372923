# The kernel side of length-prefix.toml: reads messages framed by a 4-byte length
# (struct.pack('i', n)), however the segments fell.
# Usage: python3 length_prefix_server.py ADDRESS PORT
import socket
import struct
import sys


def recv_exactly(conn, n):
    data = b''
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError('the client closed in the middle of a message')
        data += chunk
    return data


server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(5)
conn, addr = server.accept()
for i in range(1, 4):
    (length,) = struct.unpack('i', recv_exactly(conn, 4))
    print(f'message {i}: {recv_exactly(conn, length)!r}')
conn.sendall(b'got 3 messages')
assert conn.recv(1024) == b''
conn.close()
