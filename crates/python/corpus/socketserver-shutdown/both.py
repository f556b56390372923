import socket
import socketserver
import threading


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.sendall(self.request.recv(100))


server = socketserver.TCPServer(('127.0.0.1', 9062), Echo)
thread = threading.Thread(target=server.serve_forever)
thread.start()
with socket.create_connection(('127.0.0.1', 9062)) as c:
    c.sendall(b'ping')
    print(c.recv(100))
server.shutdown()
thread.join()
server.server_close()
print('served and stopped; thread alive:', thread.is_alive())
