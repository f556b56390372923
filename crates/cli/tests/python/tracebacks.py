import asyncio
import socket
import socketserver
import threading


class Failing(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(10)
        raise ValueError('a handler that fails')


server = socketserver.TCPServer(('127.0.0.1', 7300), Failing)
threading.Thread(target=server.handle_request).start()
socket.create_connection(('127.0.0.1', 7300)).sendall(b'x')


async def fails():
    socket.create_connection(('127.0.0.1', 7301))  # nobody listens: refused


async def main():
    task = asyncio.get_running_loop().create_task(fails())
    await asyncio.sleep(0.1)
    print('task done:', task.done())
    del task


asyncio.run(main())
