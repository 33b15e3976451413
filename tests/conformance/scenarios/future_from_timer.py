import asyncio
from harness import new_loop, log

async def main():
    loop = asyncio.get_running_loop()
    f = loop.create_future()
    loop.call_later(1.5, f.set_result, "ready")
    g = loop.create_future()
    loop.call_later(0.5, g.set_exception, KeyError("missing"))
    try:
        await g
    except KeyError:
        log("g raised KeyError")
    v = await f
    log(f"f gave {v}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
