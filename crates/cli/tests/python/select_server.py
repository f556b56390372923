# One thread serving two clients at once with select.select.
import select
import socket

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(('127.0.0.1', 9100))
server.listen(5)
watched = [server]
served = 0
while served < 2:
    readable, _, _ = select.select(watched, [], [], 5)
    for s in readable:
        if s is server:
            conn, addr = server.accept()
            watched.append(conn)
            continue
        data = s.recv(1024)
        if data:
            s.sendall(data[::-1])
        else:
            watched.remove(s)
            s.close()
            served += 1
print('served', served)
server.close()
