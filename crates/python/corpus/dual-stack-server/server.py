import socket

print('dual stack possible:', socket.has_dualstack_ipv6())
server = socket.create_server(('', 9071), family=socket.AF_INET6, dualstack_ipv6=True)
print('listening on', server.getsockname())
print('V6ONLY', server.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY))
for _ in range(2):
    conn, addr = server.accept()
    with conn:
        print('client', addr[0], 'my address', conn.getsockname()[0])
        conn.sendall(b'you are ' + addr[0].encode())
server.close()
