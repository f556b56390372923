import socket

peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
peer.bind(('127.0.0.1', 9064))
stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
stranger.bind(('127.0.0.1', 9065))
me = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
me.bind(('127.0.0.1', 9066))
me.connect(('127.0.0.1', 9064))
print('me', me.getsockname(), 'connected to', me.getpeername())
stranger.sendto(b'from a stranger', ('127.0.0.1', 9066))
peer.sendto(b'from the peer', ('127.0.0.1', 9066))
print(me.recv(100))
me.settimeout(0.2)
try:
    print(me.recv(100))
except TimeoutError:
    print('nothing else: the stranger was dropped')
