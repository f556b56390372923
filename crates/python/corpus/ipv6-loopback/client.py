import socket

client = socket.socket(socket.AF_INET6)
client.connect(('localhost', 9070))
print('peer', client.getpeername())
print('local host', client.getsockname()[0])
client.sendall(b'hello over ipv6')
print(client.recv(100))
client.close()
