import asyncio
from harness import new_loop, log

async def child():
    log("child started")
    return 1

async def main():
    t = asyncio.get_running_loop().create_task(child())
    t.cancel()
    log(f"cancel requested cancelling={t.cancelling()}")
    try:
        await t
    except asyncio.CancelledError:
        log("main saw CancelledError")
    log(f"done={t.done()} cancelled={t.cancelled()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
