"""One Python on_call handler per guest call (tests/bench/run-all)."""
import modhost

calls = 0

@modhost.ppp("callstack_instr", "on_call")
def on_call(cpu, func):
    global calls
    calls += 1

def exit():
    modhost.log("calls=%d" % calls)
