import hashlib
import socket

server = socket.socket()
server.bind(('127.0.0.1', 9053))
server.listen()
conn, _ = server.accept()
data = b''
while True:
    chunk = conn.recv(65536)
    if not chunk:
        break
    data += chunk
print('received', len(data), hashlib.sha256(data).hexdigest()[:16])
