import asyncio
from harness import new_loop, log

async def inner():
    try:
        await asyncio.sleep(0.005)
    except asyncio.CancelledError:
        log("inner cancelled")
        raise
    log("inner finished")
    return 42

async def waiter(t):
    try:
        return await asyncio.shield(t)
    except asyncio.CancelledError:
        log("waiter cancelled")
        raise

async def main():
    t = asyncio.create_task(inner())
    w = asyncio.create_task(waiter(t))
    await asyncio.sleep(0.001)
    w.cancel()
    try:
        await w
    except asyncio.CancelledError:
        log(f"w.cancelled={w.cancelled()} t.done={t.done()}")
    log(f"inner result {await t}")
    t2 = asyncio.create_task(inner())
    asyncio.get_running_loop().call_later(0.001, t2.cancel)
    try:
        await asyncio.shield(t2)
    except asyncio.CancelledError:
        log("shield of a cancelled inner raised CancelledError")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
