import modhost

@modhost.hypercall(0x4D480001)
def load(cpu):
    pass
