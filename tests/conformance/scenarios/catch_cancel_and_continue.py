import asyncio
from harness import new_loop, log

async def stubborn():
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        log(f"caught cancel cancelling={asyncio.current_task().cancelling()}")
        asyncio.current_task().uncancel()
    await asyncio.sleep(1)
    log("carried on")
    return 42

async def main():
    t = asyncio.get_running_loop().create_task(stubborn())
    await asyncio.sleep(1)
    t.cancel()
    r = await t
    log(f"result {r} cancelled={t.cancelled()} cancelling={t.cancelling()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
