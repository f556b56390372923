import socket
import time

first = socket.create_connection(('127.0.0.1', 9005))
print('first connected')
time.sleep(0.5)  # the server has exited by now
try:
    socket.create_connection(('127.0.0.1', 9005))
    print('second connected')
except ConnectionRefusedError as e:
    print('second refused', e.errno)
