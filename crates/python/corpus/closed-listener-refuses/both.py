import socket

server = socket.socket()
server.bind(('127.0.0.1', 9006))
server.listen()
waiting = socket.create_connection(('127.0.0.1', 9006))
server.close()
try:
    print('pending connection reads', waiting.recv(10))
except ConnectionResetError as e:
    print('pending connection reset', e.errno)
try:
    socket.create_connection(('127.0.0.1', 9006))
except ConnectionRefusedError as e:
    print('new connection refused', e.errno)
