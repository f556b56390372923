# Says hello, with its own address, to the server at the address it is given.
import socket
import sys

with socket.create_connection((sys.argv[1], 9000)) as c:
    c.sendall(f'hello from {c.getsockname()[0]}\n'.encode())
    print(c.recv(1024).decode().strip())
