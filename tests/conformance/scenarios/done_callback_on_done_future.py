import asyncio
from harness import new_loop, log

async def main():
    loop = asyncio.get_running_loop()
    f = loop.create_future()
    f.set_result(5)
    f.add_done_callback(lambda fut: log(f"callback result={fut.result()}"))
    log("callback added")
    await asyncio.sleep(0)
    log("after yield")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
