from harness import new_loop, log

loop = new_loop()
f = loop.create_future()
cb_b = lambda fut: log(f"B sees {fut.result()}")
f.add_done_callback(lambda fut: log(f"A sees {fut.result()}"))
f.add_done_callback(cb_b)
f.add_done_callback(lambda fut: log(f"C sees {fut.result()}"))
f.add_done_callback(cb_b)
log(f"removed {f.remove_done_callback(cb_b)}")

def complete():
    log("completing")
    f.set_result(7)
    log("completed")

loop.call_later(1, complete)
loop.call_later(1, lambda: log("same-time timer"))
loop.call_later(2, loop.stop)
loop.run_forever()
loop.close()
