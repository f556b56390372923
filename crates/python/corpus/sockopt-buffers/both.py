import socket

s = socket.socket()
for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
    for asked in (4096, 100000, 1):
        s.setsockopt(socket.SOL_SOCKET, option, asked)
        print('asked', asked, 'got', s.getsockopt(socket.SOL_SOCKET, option))
