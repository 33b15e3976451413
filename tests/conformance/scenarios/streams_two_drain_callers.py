# Two tasks waiting in StreamWriter.drain() on one connection (asyncio's
# streams over loopback; simloop's on the fake network under fifo).
#
# First connection: the server's handler does not read until an Event is
# set, so the client's socket buffers fill and its transport pauses; two
# client tasks each write 16 MiB (more than a kernel's socket buffers take)
# and await drain() concurrently. Then the server reads up to EOF: the
# transport drains to the low-water mark and resume_writing() wakes every
# drain() waiter (CPython 3.13 wakes them all, in the order they waited).
#
# Second connection: the same two drain() waiters, but the server aborts its
# transport with data still unread, so the kernel resets the connection; the
# client's transport gets ECONNRESET and connection_lost(exc) hands both
# waiters that error (and wait_closed() raises it too).
#
# How much the socket buffers take differs per machine (and from the fake
# network's), so this logs no byte count the kernel decides, and loop
# iterations only as relations (both waiters woken in the same iteration).
import asyncio
from harness import new_loop, log

SIZE = 16 * 1024 * 1024
HIGH = 64 * 1024  # the default high-water mark

iteration = 0
ticking = True

def tick():
    global iteration
    iteration += 1
    if ticking:
        asyncio.get_running_loop().call_soon(tick)

connections = []

class Connection:
    def __init__(self):
        loop = asyncio.get_running_loop()
        self.started = loop.create_future()
        self.go = asyncio.Event()
        self.received = None

async def read_all(conn, reader, writer):
    await conn.go.wait()
    log("server reads")
    data = await reader.read()
    conn.received = len(data)
    log(f"server got all={conn.received == 2 * SIZE}")
    writer.close()
    await writer.wait_closed()

async def abort_unread(conn, reader, writer):
    await conn.go.wait()
    log("server aborts")
    writer.transport.abort()

handled = 0

async def handler(reader, writer):
    global handled
    index = handled
    handled += 1
    conn = connections[index]
    conn.started.set_result(None)
    log(f"handler {index} start")
    await conn.behaviour(conn, reader, writer)
    log(f"handler {index} done")

async def drainer(name, writer, conn, woken):
    writer.write(name[0].encode() * SIZE)
    log(f"{name} wrote above_high={writer.transport.get_write_buffer_size() > HIGH}")
    try:
        await writer.drain()
    except Exception as exc:
        woken.append((name, iteration))
        log(f"{name} drain raised {type(exc).__name__}")
    else:
        woken.append((name, iteration))
        log(f"{name} drained server_reading={conn.go.is_set()} server_got_all={conn.received is not None}")

async def two_drainers(port, conn):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await conn.started
    woken = []
    both = asyncio.gather(drainer("a", writer, conn, woken), drainer("b", writer, conn, woken))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    log(f"both waiting woken={len(woken)} paused_buffer_above_high="
        f"{writer.transport.get_write_buffer_size() > HIGH}")
    conn.go.set()
    await both
    (first, it_first), (second, it_second) = woken
    log(f"woken first={first} then={second} same_iteration={it_first == it_second}")
    return reader, writer

async def main():
    global ticking
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    asyncio.get_running_loop().call_soon(tick)

    conn = Connection()
    conn.behaviour = read_all
    connections.append(conn)
    reader, writer = await two_drainers(port, conn)
    writer.write_eof()
    log("client wrote eof")
    await reader.read()
    writer.close()
    await writer.wait_closed()
    log(f"client closed server_got_all={conn.received == 2 * SIZE}")

    conn = Connection()
    conn.behaviour = abort_unread
    connections.append(conn)
    reader, writer = await two_drainers(port, conn)
    log(f"client closing={writer.is_closing()} reader_error={type(reader.exception()).__name__}")
    writer.close()
    try:
        await writer.wait_closed()
    except Exception as exc:
        log(f"client wait_closed raised {type(exc).__name__}")
    try:
        await writer.drain()
    except Exception as exc:
        log(f"client drain after loss raised {type(exc).__name__}")

    server.close()
    await server.wait_closed()
    ticking = False
    log("done")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
