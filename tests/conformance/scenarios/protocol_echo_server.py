# Protocols and transports over loopback (simloop: the fake network under
# fifo): create_server with an echoing Protocol, a client made by
# create_connection sending three messages one at a time and reading each
# echo, then write_eof (the server's eof_received keeps its side open to say
# goodbye and close), connection_lost on both sides, server close and
# wait_closed. Each callback logs the loop iteration it ran in (counted by a
# callback re-posting itself), the transports' address relations (as
# booleans, comparing whole (host, port) addresses: the fake network puts
# clients on a host of their own, so a port alone says nothing), is_closing
# and can_write_eof.
import asyncio
from harness import new_loop, log

iteration = 0
ticking = True

def tick():
    global iteration
    iteration += 1
    if ticking:
        asyncio.get_running_loop().call_soon(tick)

def addr(transport, name):
    host, port = transport.get_extra_info(name)[:2]
    return (host, port)

class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        log(f"server made closing={transport.is_closing()} can_write_eof={transport.can_write_eof()} "
            f"it={iteration}")
        self.peer = addr(transport, "peername")
        self.local = addr(transport, "sockname")

    def data_received(self, data):
        log(f"server got {data.decode()} it={iteration}")
        self.transport.write(data.upper())

    def eof_received(self):
        log(f"server eof closing={self.transport.is_closing()} it={iteration}")
        self.transport.write(b"bye")
        self.transport.close()
        log(f"server closing={self.transport.is_closing()} it={iteration}")
        return True

    def connection_lost(self, exc):
        log(f"server lost {exc} it={iteration}")

class Client(asyncio.Protocol):
    def __init__(self):
        self.replies = asyncio.Queue()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        log(f"client made it={iteration}")

    def data_received(self, data):
        log(f"client got {data.decode()} it={iteration}")
        self.replies.put_nowait(data)

    def eof_received(self):
        log(f"client eof it={iteration}")
        # None: the transport closes itself

    def connection_lost(self, exc):
        log(f"client lost {exc} it={iteration}")
        self.lost.set_result(None)

async def main():
    global ticking
    loop = asyncio.get_running_loop()
    loop.call_soon(tick)
    protocols = []

    def factory():
        p = Echo()
        protocols.append(p)
        return p

    server = await loop.create_server(factory, "127.0.0.1", 0)
    server_addr = server.sockets[0].getsockname()[:2]
    server_port = server_addr[1]
    log(f"server serving={server.is_serving()} it={iteration}")
    transport, client = await loop.create_connection(Client, "127.0.0.1", server_port)
    log(f"client connected closing={transport.is_closing()} can_write_eof={transport.can_write_eof()} "
        f"it={iteration}")
    peer = addr(transport, "peername")
    local = addr(transport, "sockname")
    log(f"client peer_is_server={peer == server_addr} local_is_server={local == server_addr} it={iteration}")
    for i in range(3):
        transport.write(f"msg{i}".encode())
        log(f"client sent msg{i} buffered={transport.get_write_buffer_size()} it={iteration}")
        reply = await client.replies.get()
        log(f"client reply {reply.decode()} it={iteration}")
    echo = protocols[0]
    log(f"server side peer_is_client={echo.peer == local} local_is_server={echo.local == server_addr} "
        f"it={iteration}")
    transport.write_eof()
    log(f"client wrote eof closing={transport.is_closing()} it={iteration}")
    reply = await client.replies.get()
    log(f"client reply {reply.decode()} it={iteration}")
    await client.lost
    log(f"client closing={transport.is_closing()} it={iteration}")
    server.close()
    log(f"server serving={server.is_serving()} it={iteration}")
    await server.wait_closed()
    log(f"server closed it={iteration}")
    ticking = False
    log("done")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
