import asyncio
from harness import new_loop, log

async def waiter(sem, name):
    try:
        await sem.acquire()
    except asyncio.CancelledError:
        log(f"{name} cancelled")
        raise
    log(f"{name} acquired")

async def main():
    sem = asyncio.Semaphore(0)
    b = asyncio.create_task(waiter(sem, "b"))
    c = asyncio.create_task(waiter(sem, "c"))
    d = asyncio.create_task(waiter(sem, "d"))
    await asyncio.sleep(0)
    sem.release()
    b.cancel()
    log("released and cancelled b")
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    log(f"locked={sem.locked()}")
    sem.release()
    await c
    await d
    log(f"locked={sem.locked()}")
    bs = asyncio.BoundedSemaphore(1)
    await bs.acquire()
    bs.release()
    try:
        bs.release()
    except ValueError:
        log("bounded: released too many times")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
