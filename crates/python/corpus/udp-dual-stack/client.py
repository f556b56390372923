import socket

v4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v4.sendto(b'from ipv4', ('127.0.0.1', 9076))
print(v4.recvfrom(100)[0])
v6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
v6.sendto(b'from ipv6', ('::1', 9076))
data, addr = v6.recvfrom(100)
print(data, addr[0], v6.getsockname()[0])
try:
    v6.sendto(b'x', ('127.0.0.1', 9076))
except OSError as e:
    print('IPv4 literal on AF_INET6:', type(e).__name__, e)
v6.sendto(b'mapped', ('::ffff:127.0.0.1', 9076))
data, addr = v6.recvfrom(100)
print(data, addr[0])
