import socket

c = socket.create_connection(('127.0.0.1', 9027))
for part in (b'hello', b'world', b'again'):
    c.send(part)
c.close()
