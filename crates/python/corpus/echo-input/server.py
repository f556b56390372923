import socket

server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 9000))
server.listen(5)
print('starting...')
conn, addr = server.accept()
print('client from', addr[0])
while True:
    data = conn.recv(1024)
    if not data:
        break
    print('客户端的数据', data)
    conn.send(data.upper())
conn.close()
server.close()
