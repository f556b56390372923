import socket
import sys

host, port, message = sys.argv[1], int(sys.argv[2]), sys.argv[3]
print('argv', sys.argv[1:])
with socket.create_connection((host, port)) as c:
    c.sendall(message.encode())
