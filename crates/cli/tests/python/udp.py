import socket

server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', 5353))
client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.sendto(b'first', ('127.0.0.1', 5353))
client.sendto(b'second', ('127.0.0.1', 5353))
for _ in range(2):
    data, addr = server.recvfrom(1024)
    print(data, addr[0])
    server.sendto(data.upper(), addr)
print(client.recvfrom(1024)[0], client.recvfrom(1024)[0])
