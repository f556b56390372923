import socket

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
print('SO_BROADCAST', u.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST))
try:
    u.sendto(b'to everyone', ('10.0.0.255', 9020))
except PermissionError as e:
    print('PermissionError', e.errno)
u.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
print('SO_BROADCAST', u.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST))
print('sent', u.sendto(b'to everyone', ('10.0.0.255', 9020)))
try:
    u.sendto(b'to everyone', ('255.255.255.255', 9020))
except OSError as e:
    print('255.255.255.255 with no default route:', e)
