import asyncio
from harness import new_loop, log

async def main():
    v = await asyncio.sleep(0.25, result="value")
    log(f"got {v}")
    w = await asyncio.sleep(0, result=3)
    log(f"got {w}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
