import socket

server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', 9007))
data, addr = server.recvfrom(1024)
print('server got', data)
server.sendto(data.upper(), addr)
