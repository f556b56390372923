import socket

server = socket.socket()
server.bind(('127.0.0.1', 9072))
server.listen()
conn, addr = server.accept()
print('client from', addr[0])
conn.sendall(b'reached over IPv4')
conn.close()
server.close()
