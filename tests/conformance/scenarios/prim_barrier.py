import asyncio
from harness import new_loop, log

async def party(b, name, delay):
    await asyncio.sleep(delay)
    try:
        i = await b.wait()
        log(f"{name} passed index={i}")
    except asyncio.BrokenBarrierError:
        log(f"{name} broken")

async def main():
    b = asyncio.Barrier(3)
    ts = [asyncio.create_task(party(b, n, 0.001 * k)) for k, n in enumerate("abc")]
    await asyncio.sleep(0.0015)
    log(f"n_waiting={b.n_waiting}")
    await asyncio.gather(*ts)
    ts = [asyncio.create_task(party(b, n, 0)) for n in "de"]
    await asyncio.sleep(0.001)
    await b.reset()
    await asyncio.gather(*ts)
    log(f"after reset broken={b.broken} n_waiting={b.n_waiting}")
    ts = [asyncio.create_task(party(b, n, 0)) for n in "fg"]
    await asyncio.sleep(0.001)
    await b.abort()
    await asyncio.gather(*ts)
    await party(b, "h", 0)
    log(f"broken={b.broken}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
