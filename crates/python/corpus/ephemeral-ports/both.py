import socket

server = socket.socket()
server.bind(('127.0.0.1', 0))
server.listen()
port = server.getsockname()[1]
print('bind(0) port in 32768-60999:', 32768 <= port <= 60999)
client = socket.create_connection(('127.0.0.1', port))
mine = client.getsockname()[1]
print('connect() port in 32768-60999:', 32768 <= mine <= 60999, 'even:', mine % 2 == 0)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b'x', ('127.0.0.1', 9))
print('sendto() bound a UDP port in range:', 32768 <= u.getsockname()[1] <= 60999)
