import select
import socket
import time

server = socket.socket()
server.bind(('127.0.0.1', 9044))
server.listen()
deadline = time.time() + 0.5
polls = 0
while True:
    left = deadline - time.time()
    if left < 0:
        break
    r, _, _ = select.select([server], [], [], left)
    polls += 1
print('deadline passed, nobody came; more than one select:', polls > 1)
