import asyncio
from harness import new_loop, log

async def value_after(d, v):
    await asyncio.sleep(d)
    return v

async def main():
    try:
        async with asyncio.timeout(0.002) as cm:
            await value_after(0.010, 1)
    except TimeoutError as e:
        log(f"TimeoutError cause={type(e.__cause__).__name__} expired={cm.expired()} cancelling={asyncio.current_task().cancelling()}")
    async with asyncio.timeout(0.005) as cm:
        v = await value_after(0.001, 7)
    log(f"in time {v} expired={cm.expired()}")
    async with asyncio.timeout(None) as cm:
        cm.reschedule(asyncio.get_running_loop().time() + 0.003)
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            log("body cancelled by the rescheduled timeout")
            raise
    log("unreachable")

async def outer():
    try:
        await main()
    except TimeoutError:
        log("rescheduled timeout raised TimeoutError")
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(loop.time() - 1):
            await asyncio.sleep(0)
            log("timeout_at in the past: one iteration runs")
            await asyncio.sleep(0)
    except TimeoutError:
        log("past deadline raised TimeoutError")

loop = new_loop()
loop.run_until_complete(outer())
loop.close()
