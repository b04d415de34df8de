"""The hypercall benchmark's Python handler (tests/bench/run-all): what
tests/bench/hc-count.c does, in Python: sums the six arguments, counts."""
import modhost

calls = 0
sink = 0

@modhost.hypercall(0x12345600)
def on_call(cpu):
    global calls, sink
    sink += sum(cpu.args)
    calls += 1

def exit():
    modhost.log("calls=%d" % calls)
