import socket
import time

start = time.monotonic()
while time.monotonic() < start + 0.3:
    pass  # a busy wait: on Linux the clock moves while this spins
print('busy wait over')
server = socket.socket()
server.bind(('127.0.0.1', 9101))
server.listen()
server.setblocking(False)
tries = 0
while True:
    try:
        conn, _ = server.accept()
        break
    except BlockingIOError:
        tries += 1
print('accepted after trying again and again:', tries > 10)
print('got', conn.recv(100) if conn.setblocking(True) is None else None)
