import asyncio


class Server(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        print('server got', data, 'from', addr[0])
        self.transport.sendto(data.upper(), addr)


class Client(asyncio.DatagramProtocol):
    def __init__(self, replies):
        self.replies = replies

    def datagram_received(self, data, addr):
        self.replies.put_nowait(data)


async def main():
    loop = asyncio.get_running_loop()
    server, _ = await loop.create_datagram_endpoint(Server, local_addr=('127.0.0.1', 9042))
    replies = asyncio.Queue()
    client, _ = await loop.create_datagram_endpoint(
        lambda: Client(replies), remote_addr=('127.0.0.1', 9042))
    for word in (b'alpha', b'beta'):
        client.sendto(word)
        print('client got', await replies.get())
    client.close()
    server.close()


asyncio.run(main())
