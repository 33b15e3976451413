import asyncio
from harness import new_loop, log

async def waiter(lock, name):
    try:
        await lock.acquire()
    except asyncio.CancelledError:
        log(f"{name} cancelled, locked={lock.locked()}")
        raise
    log(f"{name} acquired")
    lock.release()

async def main():
    lock = asyncio.Lock()
    await lock.acquire()
    b = asyncio.create_task(waiter(lock, "b"))
    c = asyncio.create_task(waiter(lock, "c"))
    await asyncio.sleep(0)
    lock.release()
    b.cancel()
    log("released and cancelled b")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await c
    log(f"b.cancelled={b.cancelled()} locked={lock.locked()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
