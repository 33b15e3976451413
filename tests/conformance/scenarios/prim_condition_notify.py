import asyncio
from harness import new_loop, log

async def waiter(cond, name):
    async with cond:
        await cond.wait()
        log(f"{name} notified, locked={cond.locked()}")

async def main():
    cond = asyncio.Condition()
    ts = [asyncio.create_task(waiter(cond, n)) for n in "abcd"]
    await asyncio.sleep(0)
    async with cond:
        cond.notify(1)
        log("notify(1)")
    await asyncio.sleep(0.001)
    async with cond:
        cond.notify(2)
        log("notify(2)")
    await asyncio.sleep(0.001)
    async with cond:
        cond.notify_all()
        log("notify_all")
    for t in ts:
        await t
    try:
        cond.notify()
    except RuntimeError:
        log("notify without the lock raises")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
