import os
import socket

s = socket.socket()
pid = os.fork()
