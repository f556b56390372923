import socket
import struct

c = socket.create_connection(('127.0.0.1', 9028))
for message in (b'hello', b'world' * 3, b'x' * 3000):
    c.sendall(struct.pack('i', len(message)) + message)
c.close()
