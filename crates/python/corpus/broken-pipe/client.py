import socket
import time

c = socket.create_connection(('127.0.0.1', 9025))
time.sleep(0.3)  # the server has closed by now
print('first send', c.send(b'hello'))
time.sleep(0.3)  # its RST has come back
try:
    c.send(b'again')
except (BrokenPipeError, ConnectionResetError) as e:
    print(type(e).__name__, e.errno)
