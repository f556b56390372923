import socket
import time

c = socket.create_connection(('127.0.0.1', 9021))
c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
time.sleep(3.5)  # idle: three probes go out, each answered
c.sendall(b'are you there?')
print('client got', c.recv(100))
