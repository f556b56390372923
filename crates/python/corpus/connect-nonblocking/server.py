import socket

server = socket.socket()
server.bind(('127.0.0.1', 9009))
server.listen()
conn, _ = server.accept()
print('server accepted')
conn.close()
