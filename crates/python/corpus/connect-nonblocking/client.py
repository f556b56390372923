import errno
import select
import socket

s = socket.socket()
s.setblocking(False)
code = s.connect_ex(('127.0.0.1', 9009))
print('connect_ex', code, errno.errorcode[code])
_, writable, _ = select.select([], [s], [], 5)
print('writable', len(writable))
print('SO_ERROR', s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
s.close()

r = socket.socket()
r.setblocking(False)
try:
    r.connect(('127.0.0.1', 9010))
except BlockingIOError as e:
    print('connect raised BlockingIOError', e.errno)
select.select([], [r], [], 5)
print('SO_ERROR', r.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
