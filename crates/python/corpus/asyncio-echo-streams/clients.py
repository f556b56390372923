import asyncio


async def client(n):
    reader, writer = await asyncio.open_connection('127.0.0.1', 9040)
    writer.write(f'hello from {n}\n'.encode())
    await writer.drain()
    reply = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return reply


async def main():
    replies = await asyncio.gather(*(client(n) for n in range(10)))
    for reply in replies:
        print(reply)


asyncio.run(main())
