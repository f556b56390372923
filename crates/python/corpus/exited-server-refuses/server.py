import socket

server = socket.socket()
server.bind(('127.0.0.1', 9005))
server.listen()
conn, _ = server.accept()
print('one client served; exiting')
