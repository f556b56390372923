# The kernel side of bulk-to-kernel.toml: reads one connection to its end, as the course's
# file receiver does, and prints how much arrived and its SHA-256.
# Usage: python3 sink_server.py ADDRESS PORT
import hashlib
import socket
import sys

# An IPv6 address (bulk-to-kernel-ipv6.toml) needs an AF_INET6 socket.
family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
server = socket.socket(family, socket.SOCK_STREAM)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(5)
conn, addr = server.accept()
digest = hashlib.sha256()
received = 0
while True:
    data = conn.recv(65536)
    if not data:
        break
    digest.update(data)
    received += len(data)
print(f'received {received} bytes from {addr[0]}, sha256 {digest.hexdigest()[:16]}')
conn.close()
server.close()
