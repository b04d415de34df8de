"""Counts a hypercall stream; hands the count to the next version."""
__version__ = "1"
import modhost

calls = 0
bad = 0

MAGIC = int(modhost.param("magic", "0x12345600"), 0)

@modhost.hypercall(MAGIC)
def count(cpu):
    global calls, bad
    calls += 1
    if cpu.magic != MAGIC or len(cpu.args) != 6:
        bad += 1
    if calls % 10000 == 0:
        modhost.log("at calls=%d" % calls)

def save_state():
    return {"calls": calls, "bad": bad}

def restore_state(state, old_version):
    global calls, bad
    calls = state["calls"]
    bad = state["bad"]
    modhost.log("restored calls=%d from version %s" % (calls, old_version))

def exit():
    modhost.log("exit calls=%d bad=%d" % (calls, bad))
