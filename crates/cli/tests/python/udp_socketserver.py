import socket
import socketserver


class Upper(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


with socketserver.UDPServer(('127.0.0.1', 9600), Upper) as server:
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.sendto(b'datagram', ('127.0.0.1', 9600))
    server.handle_request()
    print(client.recvfrom(100)[0], server.server_address)
