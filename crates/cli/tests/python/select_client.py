import socket
import time

a = socket.create_connection(('127.0.0.1', 9100))
b = socket.create_connection(('127.0.0.1', 9100))
b.sendall(b'second')
a.sendall(b'first')
print(a.recv(100), b.recv(100))
time.sleep(1)
a.close()
b.close()
