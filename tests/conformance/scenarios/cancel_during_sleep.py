import asyncio
from harness import new_loop, log

async def sleeper():
    log("sleeper sleeping")
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log("sleeper cancelled")
        raise
    log("sleeper woke")

async def main():
    t = asyncio.get_running_loop().create_task(sleeper())
    await asyncio.sleep(1)
    t.cancel()
    log("cancel sent")
    try:
        await t
    except asyncio.CancelledError:
        log("main saw CancelledError")
    log(f"cancelled={t.cancelled()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
