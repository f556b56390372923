import socket

client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
client.connect(('127.0.0.1', 9008))  # nobody listens there, and connect() does not ask
print('connect() says nothing')
client.send(b'hello?')
try:
    client.recv(1024)
except ConnectionRefusedError as e:
    print('recv: ConnectionRefusedError', e.errno)
unconnected = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
unconnected.settimeout(0.5)
unconnected.sendto(b'hello?', ('127.0.0.1', 9008))
try:
    unconnected.recvfrom(1024)
except TimeoutError:
    print('an unconnected socket is not told: timed out')
