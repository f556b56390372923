import socket

for host in ('127.0.0.1', '::1'):
    with socket.create_connection((host, 9071)) as c:
        print(host, 'is told:', c.recv(100))
