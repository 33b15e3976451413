import asyncio
from harness import new_loop, log

async def inner():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log("inner cancelled")
        raise

async def outer(holder):
    holder.append(asyncio.get_running_loop().create_task(inner()))
    try:
        await holder[0]
    except asyncio.CancelledError:
        log("outer cancelled")
        raise

async def main():
    holder = []
    t = asyncio.get_running_loop().create_task(outer(holder))
    await asyncio.sleep(1)
    t.cancel()
    await asyncio.sleep(0)
    log(f"inner done={holder[0].done()} outer done={t.done()}")
    await asyncio.sleep(0)
    log(f"inner cancelled={holder[0].cancelled()} outer cancelled={t.cancelled()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
