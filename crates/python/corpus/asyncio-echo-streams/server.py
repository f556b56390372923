import asyncio


async def handle(reader, writer):
    data = await reader.readline()
    writer.write(data.upper())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main():
    server = await asyncio.start_server(handle, '127.0.0.1', 9040)
    print('serving on', server.sockets[0].getsockname())
    async with server:
        await server.serve_forever()


asyncio.run(main())
