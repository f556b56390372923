import socket
import time

server = socket.socket()
server.bind(('127.0.0.1', 9011))
server.listen()
conn, _ = server.accept()
time.sleep(0.3)  # the client's MSG_DONTWAIT recv finds nothing yet
conn.sendall(b'peekaboo')
time.sleep(0.1)
for part in (b'one ', b'two ', b'three'):
    conn.sendall(part)
    time.sleep(0.1)
conn.close()
