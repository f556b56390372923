import hashlib
import json
import socket
import struct

server = socket.socket()
server.bind(('127.0.0.1', 9029))
server.listen(5)
conn, _ = server.accept()
(header_len,) = struct.unpack('i', conn.recv(4))
header = json.loads(conn.recv(header_len).decode('utf-8'))
print('header', header)
received = 0
digest = hashlib.sha256()
with open(header['filename'], 'wb') as f:
    while received < header['filesize']:
        data = conn.recv(1024)
        f.write(data)
        digest.update(data)
        received += len(data)
print('received', received, digest.hexdigest()[:16])
conn.close()
