# Threads take turns at their socket calls: the run is the same every time.
import socket
import threading

server = socket.create_server(('127.0.0.1', 9400))
results = []


def client(n):
    c = socket.create_connection(('127.0.0.1', 9400))
    c.sendall(f'client {n}'.encode())
    results.append(c.recv(100).decode())
    c.close()


def serve(count):
    for _ in range(count):
        conn, _ = server.accept()
        conn.sendall(conn.recv(100).upper())
        conn.close()


threads = [threading.Thread(target=serve, args=(3,))]
threads += [threading.Thread(target=client, args=(n,)) for n in range(3)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(results)
