# Write flow control over loopback (simloop: the fake network under fifo).
# The server's protocol pauses reading in connection_made; the client sets
# its transport's water marks and writes 64 KiB chunks until the socket
# buffers (the kernel's here, the fake network's in simloop) are full and
# its transport buffers beyond the high-water mark, so pause_writing() is
# called; the server then resumes reading, the buffer drains and
# resume_writing() is called at the low-water mark; the client writes some
# more (64 KiB: with at most the low-water mark still buffered, that stays
# below the high-water mark however little the socket takes, so it never
# pauses again; a larger write would pause or not depending on how much
# room the kernel has by then), then write_eof; the server receives
# everything, and both sides lose the connection.
#
# How much the socket buffers take differs per machine (and from the fake
# network's), so this logs no byte count the kernel decides, nor loop
# iterations: only the order of the events and facts that hold whatever the
# buffer sizes are (the buffered size against the marks when pause_writing
# and resume_writing are called, the totals being equal).
import asyncio
from harness import new_loop, log

CHUNK = 64 * 1024
HIGH = 100_000
LOW = 20_000
MORE = 64 * 1024  # LOW + MORE <= HIGH
CAP = 256 * 1024 * 1024  # a bound on the writes, never reached

class Reader(asyncio.Protocol):
    def __init__(self):
        self.received = 0
        self.got_data = False
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        self.transport = transport
        transport.pause_reading()
        log(f"server made reading={transport.is_reading()}")

    def data_received(self, data):
        if not self.got_data:
            self.got_data = True
            log("server first data")
        self.received += len(data)

    def eof_received(self):
        log(f"server eof")

    def connection_lost(self, exc):
        log(f"server lost {exc}")
        self.done.set_result(self.received)

class Writer(asyncio.Protocol):
    def __init__(self):
        loop = asyncio.get_running_loop()
        self.paused = loop.create_future()
        self.resumed = loop.create_future()
        self.lost = loop.create_future()
        self.pauses = 0

    def connection_made(self, transport):
        self.transport = transport
        log("client made")

    def pause_writing(self):
        self.pauses += 1
        size = self.transport.get_write_buffer_size()
        log(f"client pause_writing above_high={size > HIGH} pauses={self.pauses}")
        if not self.paused.done():
            self.paused.set_result(None)

    def resume_writing(self):
        size = self.transport.get_write_buffer_size()
        log(f"client resume_writing at_most_low={size <= LOW}")
        if not self.resumed.done():
            self.resumed.set_result(None)

    def eof_received(self):
        log("client eof")

    def connection_lost(self, exc):
        log(f"client lost {exc}")
        self.lost.set_result(None)

async def main():
    loop = asyncio.get_running_loop()
    readers = []

    def factory():
        r = Reader()
        readers.append(r)
        return r

    server = await loop.create_server(factory, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport, writer = await loop.create_connection(Writer, "127.0.0.1", port)
    log(f"default limits {transport.get_write_buffer_limits()}")
    transport.set_write_buffer_limits(high=4 * CHUNK)
    log(f"high only {transport.get_write_buffer_limits()}")
    try:
        transport.set_write_buffer_limits(high=LOW, low=HIGH)
    except ValueError:
        log("high < low: ValueError")
    transport.set_write_buffer_limits(high=HIGH, low=LOW)
    log(f"limits {transport.get_write_buffer_limits()} buffered={transport.get_write_buffer_size()}")
    while not readers:
        await asyncio.sleep(0)
    reader = readers[0]

    written = 0
    chunk = b"x" * CHUNK
    while not writer.paused.done():
        if written >= CAP:
            raise RuntimeError("never paused")
        transport.write(chunk)
        written += CHUNK
    log(f"client paused buffered_above_high={transport.get_write_buffer_size() > HIGH} "
        f"server_got_data={reader.got_data}")
    # Writing while paused only buffers more; pause_writing is not called again.
    transport.write(chunk)
    written += CHUNK
    await asyncio.sleep(0)
    log(f"client still paused resumed={writer.resumed.done()} pauses={writer.pauses}")

    reader.transport.resume_reading()
    log(f"server resumes reading={reader.transport.is_reading()}")
    await writer.resumed
    log(f"client resumed buffered_at_most_low={transport.get_write_buffer_size() <= LOW} "
        f"server_got_data={reader.got_data}")
    transport.write(b"y" * MORE)
    written += MORE
    log(f"client wrote more pauses={writer.pauses}")
    transport.write_eof()
    log(f"client wrote eof closing={transport.is_closing()}")
    received = await reader.done
    log(f"server received all={received == written}")
    await writer.lost
    log(f"client closing={transport.is_closing()} buffered={transport.get_write_buffer_size()}")
    server.close()
    await server.wait_closed()
    log("done")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
