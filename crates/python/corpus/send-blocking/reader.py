import hashlib
import socket
import time

server = socket.socket()
server.bind(('127.0.0.1', 9001))
server.listen()
conn, _ = server.accept()
time.sleep(0.3)  # a slow reader: the writer's buffers fill long before this
total = hashlib.sha256()
n = 0
while True:
    data = conn.recv(4096)
    if not data:
        break
    n += len(data)
    total.update(data)
print('received', n, total.hexdigest()[:16])
