import socket

server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', 9026))
for _ in range(3):
    data, addr = server.recvfrom(5)
    print('datagram', data, 'from', addr[0])
    server.sendto(data.upper(), addr)
