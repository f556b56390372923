import socket
import time

server = socket.create_server(('127.0.0.1', 7000))
client = socket.create_connection(('127.0.0.1', 7000))
conn, addr = server.accept()
conn.settimeout(0.5)
start = time.monotonic()
try:
    conn.recv(1024)
except TimeoutError as e:
    print('timed out after', round(time.monotonic() - start, 3), repr(e))
print('timeout', conn.gettimeout())
t0 = time.time()
time.sleep(60)
print('slept', round(time.time() - t0, 6))
client.close()
conn.settimeout(None)
print('eof', conn.recv(10))
conn.close()
server.close()
