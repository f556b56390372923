import asyncio


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        print('server: connection from', transport.get_extra_info('peername')[0])

    def data_received(self, data):
        self.transport.write(data[::-1])

    def eof_received(self):
        print('server: the client has no more to say')

    def connection_lost(self, exc):
        print('server: connection lost', exc)


class Client(asyncio.Protocol):
    def __init__(self, done):
        self.done = done

    def connection_made(self, transport):
        transport.write(b'stressed')
        transport.write_eof()

    def data_received(self, data):
        print('client got', data)

    def connection_lost(self, exc):
        self.done.set_result(exc)


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, '127.0.0.1', 9041)
    done = loop.create_future()
    await loop.create_connection(lambda: Client(done), '127.0.0.1', 9041)
    print('client closed', await done)
    server.close()
    await server.wait_closed()


asyncio.run(main())
