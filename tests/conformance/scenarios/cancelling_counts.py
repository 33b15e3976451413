import asyncio
from harness import new_loop, log

async def child():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        t = asyncio.current_task()
        log(f"child cancelling={t.cancelling()}")
        log(f"uncancel -> {t.uncancel()}")
        log(f"uncancel -> {t.uncancel()}")
        log(f"uncancel -> {t.uncancel()}")
    return "survived"

async def main():
    t = asyncio.get_running_loop().create_task(child())
    await asyncio.sleep(1)
    log(f"cancel -> {t.cancel()}")
    log(f"cancel -> {t.cancel()}")
    log(f"cancelling={t.cancelling()}")
    r = await t
    log(f"result={r} cancel after done -> {t.cancel()}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
