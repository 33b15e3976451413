# The loop iterations a stream connection takes: when the server's handler
# starts, when open_connection returns, when each side gets a line. A
# callback re-posting itself counts iterations. Two clients, two lines each,
# over loopback sockets (simloop: the fake network under fifo).
import asyncio
from harness import new_loop, log

iteration = 0
ticking = True

def tick():
    global iteration
    iteration += 1
    if ticking:
        asyncio.get_running_loop().call_soon(tick)

async def handler(reader, writer):
    log(f"handler start it={iteration}")
    while True:
        line = await reader.readline()
        if not line:
            break
        log(f"handler got {line.decode().strip()} it={iteration}")
        writer.write(line)
        await writer.drain()
    writer.close()
    await writer.wait_closed()
    log(f"handler closed it={iteration}")

async def client(name, port):
    log(f"{name} connect it={iteration}")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    log(f"{name} connected it={iteration}")
    for i in range(2):
        writer.write(f"{name}-{i}\n".encode())
        await writer.drain()
        line = await reader.readline()
        log(f"{name} got {line.decode().strip()} it={iteration}")
    writer.close()
    await writer.wait_closed()
    log(f"{name} closed it={iteration}")

async def main():
    global ticking
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    asyncio.get_running_loop().call_soon(tick)
    await asyncio.sleep(0)
    await asyncio.gather(client("a", port), client("b", port))
    server.close()
    await server.wait_closed()
    ticking = False
    log("done")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
