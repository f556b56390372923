import socket

server = socket.socket()
server.bind(('127.0.0.1', 9025))
server.listen()
conn, _ = server.accept()
conn.close()
