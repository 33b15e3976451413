import asyncio
from harness import new_loop, log

async def child(name, d):
    try:
        await asyncio.sleep(d)
    except asyncio.CancelledError:
        log(f"{name} cancelled")
        raise
    log(f"{name} done")
    return name

async def main():
    a = asyncio.create_task(child("a", 0.005))
    b = asyncio.create_task(child("b", 0.001))
    g = asyncio.gather(a, b)
    await asyncio.sleep(0.002)
    log(f"cancel gather -> {g.cancel()}")
    try:
        await g
    except asyncio.CancelledError:
        log("gather raised CancelledError")
    log(f"a.cancelled={a.cancelled()} b.cancelled={b.cancelled()} again={g.cancel()}")
    # a cancelled child shows as CancelledError
    c = asyncio.create_task(child("c", 0.005))
    d = asyncio.create_task(child("d", 0.002))
    asyncio.get_running_loop().call_later(0.001, c.cancel, "stop")
    rs = await asyncio.gather(c, d, return_exceptions=True)
    log(f"outcomes {type(rs[0]).__name__}('{rs[0]}') {rs[1]}")
    e = asyncio.create_task(child("e", 0.005))
    asyncio.get_running_loop().call_later(0.001, e.cancel)
    try:
        await asyncio.gather(e)
    except asyncio.CancelledError:
        log("gather of a cancelled child raised CancelledError")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
