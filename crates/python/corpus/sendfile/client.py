import hashlib
import socket

content = bytes(range(256)) * 1000
with open('data.bin', 'wb') as f:
    f.write(content)
c = socket.create_connection(('127.0.0.1', 9053))
with open('data.bin', 'rb') as f:
    print('sent', c.sendfile(f, offset=1000, count=200000), 'file at', f.tell())
print('expected', hashlib.sha256(content[1000:201000]).hexdigest()[:16])
c.close()
