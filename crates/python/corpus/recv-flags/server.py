import socket
import time

server = socket.socket()
server.bind(('127.0.0.1', 9011))
server.listen()
conn, _ = server.accept()
conn.sendall(b'peekaboo')
time.sleep(0.1)
for part in (b'one ', b'two ', b'three'):
    conn.sendall(part)
    time.sleep(0.1)
conn.close()
