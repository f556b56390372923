import socket

server = socket.create_server(('127.0.0.1', 7300))
server.setblocking(False)
try:
    server.accept()
except BlockingIOError as e:
    print('accept:', type(e).__name__, e.errno)
client = socket.create_connection(('127.0.0.1', 7300))
conn, _ = server.accept()
conn.setblocking(False)
try:
    conn.recv(10)
except BlockingIOError as e:
    print('recv:', type(e).__name__, e.errno, conn.getblocking())
