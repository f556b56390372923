import socket
import threading


def client(n):
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.connect(('127.0.0.1', 8084))
    c.send(f'hello from client {n}'.encode('utf-8'))
    print(c.recv(1024).decode('utf-8'))
    c.close()


clients = [threading.Thread(target=client, args=(n,)) for n in range(1, 21)]
for t in clients:
    t.start()
for t in clients:
    t.join()
