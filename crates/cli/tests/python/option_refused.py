import socket

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_PRIORITY, 6)
