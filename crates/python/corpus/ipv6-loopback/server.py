import socket

server = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
server.bind(('::1', 9070))
server.listen()
print('listening on', server.getsockname())
conn, addr = server.accept()
print('from', addr[0], 'family', conn.family.name, 'len', len(addr))
data = conn.recv(100)
conn.sendall(data.upper())
conn.close()
server.close()
