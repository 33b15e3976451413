# Datagram endpoints over loopback (simloop: the fake network under fifo):
# the loop iterations connection_made, each datagram and connection_lost
# take, counted by a callback re-posting itself; a connected endpoint whose
# peer's port was closed gets error_received(ConnectionRefusedError).
import asyncio
from harness import new_loop, log

iteration = 0
ticking = True

def tick():
    global iteration
    iteration += 1
    if ticking:
        asyncio.get_running_loop().call_soon(tick)

class Server(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport
        log(f"server made it={iteration}")

    def datagram_received(self, data, addr):
        log(f"server got {data.decode()} it={iteration}")
        self.transport.sendto(b"pong" + data[4:], addr)

    def connection_lost(self, exc):
        log(f"server lost {exc} it={iteration}")

class Client(asyncio.DatagramProtocol):
    def __init__(self, name):
        self.name = name
        self.replies = asyncio.Queue()
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport):
        log(f"{self.name} made it={iteration}")

    def datagram_received(self, data, addr):
        log(f"{self.name} got {data.decode()} it={iteration}")
        self.replies.put_nowait(data)

    def error_received(self, exc):
        log(f"{self.name} error {type(exc).__name__} it={iteration}")
        self.replies.put_nowait(None)

    def connection_lost(self, exc):
        log(f"{self.name} lost {exc} it={iteration}")
        self.lost.set_result(None)

async def main():
    global ticking
    loop = asyncio.get_running_loop()
    loop.call_soon(tick)
    server_t, server_p = await loop.create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))
    port = server_t.get_extra_info("sockname")[1]
    log(f"server ready it={iteration}")
    client_t, client_p = await loop.create_datagram_endpoint(lambda: Client("a"), remote_addr=("127.0.0.1", port))
    log(f"a ready peer_is_server={client_t.get_extra_info('peername')[1] == port} it={iteration}")
    for i in range(3):
        client_t.sendto(f"ping{i}".encode())
        log(f"a sent ping{i} buffered={client_t.get_write_buffer_size()} it={iteration}")
        reply = await client_p.replies.get()
        log(f"a reply {reply.decode()} it={iteration}")

    # A port nobody listens on any more.
    gone_t, gone_p = await loop.create_datagram_endpoint(lambda: Client("gone"), local_addr=("127.0.0.1", 0))
    gone_port = gone_t.get_extra_info("sockname")[1]
    gone_t.close()
    await gone_p.lost
    refused_t, refused_p = await loop.create_datagram_endpoint(lambda: Client("r"), remote_addr=("127.0.0.1", gone_port))
    refused_t.sendto(b"anyone")
    log(f"r sent it={iteration}")
    await refused_p.replies.get()
    log(f"r closing={refused_t.is_closing()} it={iteration}")

    refused_t.close()
    client_t.close()
    log(f"closing a={client_t.is_closing()} it={iteration}")
    await refused_p.lost
    await client_p.lost
    server_t.abort()
    await asyncio.sleep(0)
    ticking = False
    log("done")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
