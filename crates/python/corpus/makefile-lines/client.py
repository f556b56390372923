import socket

c = socket.create_connection(('127.0.0.1', 9031))
reader = c.makefile('rb')
writer = c.makefile('wb')
c.close()  # the files still hold the socket: CPython closes it with the last of them
writer.write(b'first\nsecond\n')
writer.flush()
print(reader.readline())
print(reader.readline())
writer.close()
reader.close()
print('closed', c.fileno())
