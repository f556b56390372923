import socket

server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
server.bind(('', 9076))
for _ in range(3):
    data, addr = server.recvfrom(100)
    print('datagram', data, 'from', addr[0], 'tuple of', len(addr))
    server.sendto(data.upper(), addr)
