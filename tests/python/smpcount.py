"""Counts each vCPU's hypercalls; the guest numbers them (second argument),
so a call lost or run twice shows as a break in the sequence."""
__version__ = "1"
import modhost

per = {}      # the guest's CPU number -> calls seen
vcpus = set() # the vCPU indices the calls came from
breaks = 0

@modhost.hypercall(0x12345600)
def count(cpu):
    global breaks
    c = cpu.arg(0)
    n = per.get(c, 0)
    if cpu.arg(1) != n:
        breaks += 1
    per[c] = n + 1
    vcpus.add(cpu.index)

def save_state():
    return (per, vcpus, breaks)

def restore_state(state, old_version):
    global per, vcpus, breaks
    per, vcpus, breaks = state

def exit():
    modhost.log("per %s vcpus %d breaks %d" %
                (" ".join(str(per.get(c, 0)) for c in range(4)), len(vcpus), breaks))
