import socket
import threading

replies = {}


def client(n):
    c = socket.create_connection(('127.0.0.1', 9030))
    c.sendall(f'hello from client {n}'.encode())
    replies[n] = c.recv(1024)
    c.close()


threads = [threading.Thread(target=client, args=(n,)) for n in range(1, 6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for n in sorted(replies):
    print(replies[n])
