import modhost

get_callers = modhost.import_fn("callstack_instr", "get_callers", "u64(p)")
