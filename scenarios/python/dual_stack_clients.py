# The clients of dual_stack_server.py: one over IPv4, one over IPv6, and one that names
# `localhost`, which getaddrinfo answers with ::1 and then 127.0.0.1.
import socket

for host, port in (('127.0.0.1', 8090), ('::1', 8090), ('localhost', 8091)):
    print('getaddrinfo', host, '->', [a[4][0] for a in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)])
    with socket.create_connection((host, port)) as c:
        print(c.family.name, 'to', c.getpeername()[0], 'is told:', c.recv(100).decode())
