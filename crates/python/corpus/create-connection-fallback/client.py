import socket

with socket.create_connection(('localhost', 9072)) as c:
    print('connected to', c.getpeername(), c.family.name)
    print(c.recv(100))
try:
    socket.create_connection(('localhost', 9073))
except ConnectionRefusedError as e:
    print('nobody listens:', e)
