import socket
import threading


def talk(n):
    c = socket.create_connection(('127.0.0.1', 9500))
    c.sendall(f'hello from {n}'.encode())
    print(c.recv(100).decode())
    c.close()


workers = [threading.Thread(target=talk, args=(n,)) for n in range(20)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print('all done')
