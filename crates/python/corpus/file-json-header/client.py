import hashlib
import json
import socket
import struct

content = bytes((i * 7) % 251 for i in range(1 << 20))
with open('video.mp4', 'wb') as f:
    f.write(content)
header = json.dumps({'filename': 'copy.mp4', 'filesize': len(content)}).encode('utf-8')
c = socket.create_connection(('127.0.0.1', 9029))
c.send(struct.pack('i', len(header)))
c.send(header)
with open('video.mp4', 'rb') as f:
    for line in f:
        c.send(line)
print('sent', len(content), hashlib.sha256(content).hexdigest()[:16])
c.close()
