import socket
import time

server = socket.socket()
server.bind(('127.0.0.1', 9004))
server.listen()
conn, _ = server.accept()
time.sleep(0.2)  # the client's data arrives, unread
print('server exits without reading')
