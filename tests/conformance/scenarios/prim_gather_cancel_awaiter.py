# Cancelling the task that awaits a gather cancels every child.
import asyncio
from harness import new_loop, log

async def child(name, d):
    try:
        await asyncio.sleep(d)
    except asyncio.CancelledError:
        log(f"{name} cancelled")
        raise
    return name

async def waiter():
    try:
        await asyncio.gather(child("a", 0.005), child("b", 0.005))
    except asyncio.CancelledError:
        log("waiter cancelled")
        raise

async def main():
    w = asyncio.create_task(waiter())
    await asyncio.sleep(0.001)
    w.cancel()
    try:
        await w
    except asyncio.CancelledError:
        log(f"w.cancelled={w.cancelled()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
