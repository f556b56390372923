# Connects to a port where nothing listens: the peer's stack answers with RST.
import socket
import sys

print('calling', sys.argv[1])
client = socket.socket()
client.connect((sys.argv[1], 9))
print('never printed')
