"""Exports for C modules and hypercall routes."""
__version__ = "1"
import modhost

@modhost.export("twice", "u64(u64)")
def twice(x):
    return 2 * x

# The signature of tests/modules/hcsym.c's hc_greet: s is the guest's
# string, copied in by the host.
@modhost.export("greet", "u32(s,u32,g)")
def greet(s, n, where):
    modhost.log("greet s='%s' n=%d g=%s" % (s, n, "set" if where else "zero"))
    return n + 1
