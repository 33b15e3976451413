# The program of the asyncio notes (seed 002): two tasks, sleeps of 1 s and 5 s.
import asyncio
from harness import new_loop, log

async def say_after_time(delay, what, name):
    await asyncio.sleep(delay)
    log(f"{name} {what}")

async def main(name):
    log(f"{name} start")
    await say_after_time(1, "hello", name)
    await say_after_time(5, "world", name)
    log(f"{name} end")

loop = new_loop()
task1 = loop.create_task(main("task1"))
task2 = loop.create_task(main("task2"))
loop.run_until_complete(asyncio.wait([task1, task2]))
log("done")
loop.close()
