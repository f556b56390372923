import asyncio


async def echo(reader, writer):
    writer.write(await reader.read(100))
    await writer.drain()
    writer.close()


async def main():
    server = await asyncio.start_server(echo, '127.0.0.1', 9061)
    reader, writer = await asyncio.open_connection('localhost', 9061)
    writer.write(b'resolved and connected')
    await writer.drain()
    print(await reader.read(100))
    print('peer', writer.get_extra_info('peername'))
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()
    print('to_thread:', await asyncio.to_thread(sum, [1, 2, 3]))


asyncio.run(main())
