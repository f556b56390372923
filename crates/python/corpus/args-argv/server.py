import socket
import sys

port = int(sys.argv[1])
server = socket.create_server(('', port))
conn, _ = server.accept()
print('server on', port, 'got', conn.recv(1024))
