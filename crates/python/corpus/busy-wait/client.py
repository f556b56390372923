import socket
import time

time.sleep(0.6)
with socket.create_connection(('127.0.0.1', 9101)) as c:
    c.sendall(b'finally')
