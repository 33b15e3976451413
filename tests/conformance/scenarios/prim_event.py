import asyncio
from harness import new_loop, log

async def waiter(ev, name):
    try:
        r = await ev.wait()
        log(f"{name} woke {r}")
    except asyncio.CancelledError:
        log(f"{name} cancelled")
        raise

async def main():
    ev = asyncio.Event()
    a = asyncio.create_task(waiter(ev, "a"))
    b = asyncio.create_task(waiter(ev, "b"))
    c = asyncio.create_task(waiter(ev, "c"))
    await asyncio.sleep(0.001)
    c.cancel()
    await asyncio.sleep(0)
    ev.set()
    log(f"set is_set={ev.is_set()}")
    await asyncio.gather(a, b, return_exceptions=True)
    ev.clear()
    log(f"cleared is_set={ev.is_set()}")
    d = asyncio.create_task(waiter(ev, "d"))
    await asyncio.sleep(0.001)
    ev.set()
    b.cancel()
    await d
    # set then cancelled before it ran
    ev.clear()
    e = asyncio.create_task(waiter(ev, "e"))
    await asyncio.sleep(0)
    ev.set()
    e.cancel()
    await asyncio.gather(e, return_exceptions=True)
    log(f"e.cancelled={e.cancelled()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
