import socket
import time

server = socket.socket()
server.bind(('127.0.0.1', 9027))
server.listen()
conn, _ = server.accept()
time.sleep(0.5)  # by now all three sends have arrived
print('one recv(1024):', conn.recv(1024))
