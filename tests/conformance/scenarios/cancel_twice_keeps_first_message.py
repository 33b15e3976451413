# A task awaiting a future is cancelled twice before it wakes: the awaited
# future was cancelled with the first message, and the task raises that
# future's own CancelledError (Task.__step keeps a CancelledError it is
# handed), so the first message wins; cancelling() counts both.
import asyncio
from harness import new_loop, log

def msg(e):
    return e.args[0] if e.args else "<none>"

async def sleeper():
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError as e:
        log(f"sleeper msg={msg(e)} cancelling={asyncio.current_task().cancelling()}")
        raise

async def future_waiter(fut):
    try:
        await fut
    except asyncio.CancelledError as e:
        log(f"future_waiter msg={msg(e)} cancelling={asyncio.current_task().cancelling()}")
        raise

async def task_waiter(inner):
    try:
        await inner
    except asyncio.CancelledError as e:
        log(f"task_waiter msg={msg(e)} cancelling={asyncio.current_task().cancelling()}")
        raise

async def main():
    loop = asyncio.get_running_loop()
    t = loop.create_task(sleeper())
    await asyncio.sleep(1)
    def twice(task, first, second):
        log(f"cancel {first}: {task.cancel(first)}")
        log(f"cancel {second}: {task.cancel(second)}")
    loop.call_soon(twice, t, "one", "two")
    try:
        await t
    except asyncio.CancelledError as e:
        log(f"main saw sleeper msg={msg(e)} cancelled={t.cancelled()}")

    fut = loop.create_future()
    w = loop.create_task(future_waiter(fut))
    await asyncio.sleep(1)
    loop.call_soon(twice, w, "first", "second")
    try:
        await w
    except asyncio.CancelledError as e:
        log(f"main saw future_waiter msg={msg(e)} fut.cancelled={fut.cancelled()}")

    # The second cancel is the first one with a message.
    fut = loop.create_future()
    w = loop.create_task(future_waiter(fut))
    await asyncio.sleep(1)
    loop.call_soon(twice, w, None, "late")
    try:
        await w
    except asyncio.CancelledError as e:
        log(f"main saw future_waiter msg={msg(e)}")

    # The awaited future is a task: it is cancelled with the first message too.
    inner = loop.create_task(sleeper())
    outer = loop.create_task(task_waiter(inner))
    await asyncio.sleep(1)
    loop.call_soon(twice, outer, "alpha", "beta")
    try:
        await outer
    except asyncio.CancelledError as e:
        log(f"main saw task_waiter msg={msg(e)} inner.cancelled={inner.cancelled()}")

    # Cancelled again after the awaited future holds a result and the wakeup
    # is queued: the task's own (last) message is raised.
    fut = loop.create_future()
    w = loop.create_task(future_waiter(fut))
    await asyncio.sleep(1)
    def complete_then_cancel():
        fut.set_result(1)
        log(f"cancel x: {w.cancel('x')}")
        log(f"cancel y: {w.cancel('y')}")
    loop.call_soon(complete_then_cancel)
    try:
        await w
    except asyncio.CancelledError as e:
        log(f"main saw future_waiter msg={msg(e)}")

loop = new_loop()
loop.run_until_complete(main())
loop.close()
