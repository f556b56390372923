import socket

a = socket.socket()
a.bind(('127.0.0.1', 9016))
b = socket.socket()
try:
    b.bind(('127.0.0.1', 9016))
except OSError as e:
    print('second bind:', e)
c = socket.socket()
c.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
c.bind(('127.0.0.1', 9017))
d = socket.socket()
d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
d.bind(('127.0.0.1', 9017))
print('both with SO_REUSEADDR, neither listening: both bound')
c.listen()
try:
    d.listen()
except OSError as e:
    print('the second listen:', e)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(('127.0.0.1', 9016))
print('UDP has ports of its own: bound', u.getsockname())
