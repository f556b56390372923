import socket

client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.connect(('127.0.0.1', 9007))
print('peer', client.getpeername())
print('sent', client.send(b'datagram'))
print('reply', client.recv(1024))
client.close()
