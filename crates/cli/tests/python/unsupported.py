import select
import socket

s = socket.socket()
select.select([s], [], [], 1.0)
