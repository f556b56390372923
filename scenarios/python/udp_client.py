import socket

client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for message in [b'hello', b'world']:
    client.sendto(message, ('127.0.0.1', 8083))
    data, server_addr = client.recvfrom(1024)
    print(data, server_addr)
client.close()
