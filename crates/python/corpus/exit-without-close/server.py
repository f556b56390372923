import socket

server = socket.socket()
server.bind(('127.0.0.1', 9002))
server.listen()
conn, _ = server.accept()
chunks = []
while True:
    data = conn.recv(1024)
    if not data:
        break
    chunks.append(data)
print('got', b''.join(chunks), 'then the end of the stream')
