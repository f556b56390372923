import socket

a, b = socket.socketpair()
print(a.family == socket.AF_UNIX, a.type == socket.SOCK_STREAM)
a.sendall(b'ping')
print(b.recv(10))
b.sendall(b'pong')
print(a.recv(10))
b.setblocking(False)
try:
    b.recv(10)
except BlockingIOError as e:
    print('nothing to read:', e.errno)
a.close()
print('after close:', b.recv(10))
