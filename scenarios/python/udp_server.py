# UDP: no connection, and each recvfrom returns one whole datagram.
#   packetlab py scenarios/python/udp_server.py scenarios/python/udp_client.py
#
# On Linux's lo, the same packets (a test checks it).
import socket

server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(('127.0.0.1', 8083))
for _ in range(2):
    data, client_addr = server.recvfrom(1024)
    print('datagram', data, 'from', client_addr)
    server.sendto(data.upper(), client_addr)
