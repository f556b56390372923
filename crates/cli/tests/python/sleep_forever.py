import socket
import time

u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
while True:
    u.sendto(b'tick', ('127.0.0.1', 9))
    time.sleep(1)
