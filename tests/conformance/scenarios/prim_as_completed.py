import asyncio
from harness import new_loop, log

async def value_after(d, v):
    await asyncio.sleep(d)
    return v

async def main():
    ts = [asyncio.create_task(value_after(d, v)) for d, v in ((0.003, "a"), (0.001, "b"), (0.002, "c"))]
    async for f in asyncio.as_completed(ts):
        log(f"next {await f}")
    ts = [asyncio.create_task(value_after(d, v)) for d, v in ((0.001, "x"), (0.010, "y"))]
    it = asyncio.as_completed(ts, timeout=0.005)
    for aw in it:
        try:
            log(f"result {await aw}")
        except TimeoutError:
            log("TimeoutError")
    log(f"y.done={ts[1].done()}")
    await ts[1]

loop = new_loop()
loop.run_until_complete(main())
loop.close()
