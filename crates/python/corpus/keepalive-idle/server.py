import socket

server = socket.socket()
server.bind(('127.0.0.1', 9021))
server.listen()
conn, _ = server.accept()
print('server got', conn.recv(100))
conn.sendall(b'still here')
conn.close()
