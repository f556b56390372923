import socket

s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
try:
    s.connect(('127.0.0.1', 9999))
except ConnectionRefusedError as e:
    print('refused', e.errno, e.strerror)
print('connect_ex', socket.socket().connect_ex(('127.0.0.1', 9999)))
