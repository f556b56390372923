import socket

server = socket.socket()
server.bind(('127.0.0.1', 9024))
server.listen()
conn, _ = server.accept()
request = b''
while True:
    data = conn.recv(1024)
    if not data:
        break
    request += data
print('request', request)
conn.sendall(b'answer to ' + request)
conn.close()
