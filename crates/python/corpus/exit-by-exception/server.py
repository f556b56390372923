import socket

server = socket.socket()
server.bind(('127.0.0.1', 9003))
server.listen()
conn, _ = server.accept()
print(conn.recv(1024))
print(conn.recv(1024))
