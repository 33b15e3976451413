import asyncio
from harness import new_loop, log

async def child():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError as e:
        log(f"child cancelled msg={e.args[0] if e.args else ''}")
        raise

async def main():
    t = asyncio.get_running_loop().create_task(child())
    await asyncio.sleep(1)
    t.cancel("bye")
    try:
        await t
    except asyncio.CancelledError as e:
        log(f"main saw msg={e.args[0] if e.args else ''}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
