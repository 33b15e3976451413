from harness import new_loop, log

loop = new_loop()
loop.set_exception_handler(lambda loop, ctx: log("handler: " + " ".join(ctx["message"].split()[:3])))

def bad():
    log("bad raises")
    raise RuntimeError("oops")

loop.call_soon(bad)
loop.call_soon(lambda: log("still running"))
loop.call_later(1, lambda: log("timer after error"))
loop.call_later(1, loop.stop)
loop.run_forever()
loop.close()
