import asyncio
from harness import new_loop, log

async def waiter(cond, name):
    async with cond:
        try:
            await cond.wait()
        except asyncio.CancelledError:
            log(f"{name} cancelled, locked={cond.locked()}")
            raise
        log(f"{name} notified")

async def main():
    cond = asyncio.Condition()
    a = asyncio.create_task(waiter(cond, "a"))
    b = asyncio.create_task(waiter(cond, "b"))
    await asyncio.sleep(0)
    async with cond:
        cond.notify(1)
        a.cancel()
        log("notified one and cancelled a")
    await asyncio.gather(a, b, return_exceptions=True)
    log(f"a.cancelled={a.cancelled()} b.done={b.done()} locked={cond.locked()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
