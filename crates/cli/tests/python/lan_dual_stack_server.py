# A dual-stack server on '::': IPv4 and IPv6 clients alike, each line answered in capitals.
import socket

server = socket.create_server(('', 9000), family=socket.AF_INET6, dualstack_ipv6=True)
print('serving on', server.getsockname())
while True:
    conn, addr = server.accept()
    with conn:
        conn.sendall(conn.recv(1024).upper())
        print('client', addr[0])
