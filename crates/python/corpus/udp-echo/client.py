import socket

client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for word in (b'one', b'two', b'three-and-more'):
    client.sendto(word, ('127.0.0.1', 9026))
for _ in range(3):
    print(client.recvfrom(1024)[0])
