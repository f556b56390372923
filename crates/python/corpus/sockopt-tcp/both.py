import socket

server = socket.socket()
server.bind(('127.0.0.1', 9018))
server.listen()
s = socket.socket()
print('TCP_NODELAY', s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
print('TCP_NODELAY', s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
print('SO_KEEPALIVE', s.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE))
print('keep-alive defaults', [s.getsockopt(socket.IPPROTO_TCP, o) for o in
      (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT)])
s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 30)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
print('keep-alive set', [s.getsockopt(socket.IPPROTO_TCP, o) for o in
      (socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT)])
try:
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 0)
except OSError as e:
    print('TCP_KEEPIDLE 0:', e)
print('TCP_MAXSEG before connect', s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
print('IP_TTL', s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL))
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 7)
print('IP_TTL', s.getsockopt(socket.IPPROTO_IP, socket.IP_TTL))
print('SO_TYPE is SOCK_STREAM', s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE) == socket.SOCK_STREAM)
print('SO_ERROR', s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
s.connect(('127.0.0.1', 9018))
print('TCP_MAXSEG on lo', s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG))
print('SO_ACCEPTCONN', server.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN),
      s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
