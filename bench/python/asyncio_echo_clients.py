# 100 asyncio clients at once, each sending ten lines and reading them back.
import asyncio


async def client(n):
    reader, writer = await asyncio.open_connection('127.0.0.1', 8090)
    for i in range(10):
        writer.write(f'line {i} from client {n}\n'.encode())
        await writer.drain()
        await reader.readuntil(b'\n')
    writer.close()
    await writer.wait_closed()


async def main():
    await asyncio.gather(*(client(n) for n in range(100)))
    print('all 100 clients done')


asyncio.run(main())
