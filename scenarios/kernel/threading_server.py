# The kernel side of threading-server.toml: socketserver.ThreadingTCPServer, one thread per
# client, each answered in upper case; it stops after 20 clients.
# Usage: python3 threading_server.py ADDRESS PORT
import socketserver
import sys
import threading

served = threading.Semaphore(0)


class Upper(socketserver.BaseRequestHandler):
    def handle(self):
        data = self.request.recv(1024)
        self.request.sendall(data.upper())
        served.release()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    request_queue_size = 5          # listen(5)


server = Server((sys.argv[1], int(sys.argv[2])), Upper)
threading.Thread(target=server.serve_forever, daemon=True).start()
for _ in range(20):
    served.acquire()
print('served 20 clients, one thread each')
server.shutdown()
