import socket

s = socket.socket()
print('getsockname', s.getsockname())
try:
    s.getpeername()
except OSError as e:
    print('getpeername', e)
try:
    s.recv(10)
except OSError as e:
    print('recv', e)
try:
    s.send(b'x')
except OSError as e:
    print('send', e)
print('fileno is a number', isinstance(s.fileno(), int))
s.close()
print('after close fileno', s.fileno())
try:
    s.recv(10)
except OSError as e:
    print('recv after close', e)
