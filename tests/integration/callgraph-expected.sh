# The call graph of tests/guest/callgraph.c that every target's build
# makes (sourced by callstack.t and callstack-arm.t; change with it).
# EXPECTED_COUNTS: "name calls rets" per function; EXPECTED_FOLDED: the
# folded stacks from kmain on.
EXPECTED_COUNTS="cg_direct 3 3
cg_dispatch 3 3
cg_entry_call 3 3
cg_getpc 3 3
cg_getpc_body 3 3
cg_ind_target 3 3
cg_indirect 3 3
cg_leaf 18 18
cg_lj_deep 3 3
cg_lj_mid 3 3
cg_lj_try 3 3
cg_longjmp 3 3
cg_op_add 1 1
cg_op_mul 1 1
cg_op_xor 1 1
cg_page_end 3 3
cg_rec 12 12
cg_round 3 3
cg_setjmp 3 3
cg_stdcall 3 3
cg_straddle 3 3
cg_tail 3 3
kmain 1 0"

# COUNT = calls made with exactly that stack.  cg_tail's jump and
# cg_longjmp's jump make no frame; the frames cg_longjmp skips go at
# cg_lj_try's ret (their on_ret counts above).
EXPECTED_FOLDED="kmain;cg_round 3
kmain;cg_round;cg_direct 3
kmain;cg_round;cg_direct;cg_leaf 6
kmain;cg_round;cg_dispatch 3
kmain;cg_round;cg_dispatch;cg_op_add 1
kmain;cg_round;cg_dispatch;cg_op_mul 1
kmain;cg_round;cg_dispatch;cg_op_xor 1
kmain;cg_round;cg_entry_call 3
kmain;cg_round;cg_entry_call;cg_leaf 3
kmain;cg_round;cg_getpc 3
kmain;cg_round;cg_getpc;cg_getpc_body 3
kmain;cg_round;cg_indirect 3
kmain;cg_round;cg_indirect;cg_ind_target 3
kmain;cg_round;cg_lj_try 3
kmain;cg_round;cg_lj_try;cg_lj_mid 3
kmain;cg_round;cg_lj_try;cg_lj_mid;cg_lj_deep 3
kmain;cg_round;cg_lj_try;cg_lj_mid;cg_lj_deep;cg_longjmp 3
kmain;cg_round;cg_lj_try;cg_setjmp 3
kmain;cg_round;cg_page_end 3
kmain;cg_round;cg_page_end;cg_leaf 3
kmain;cg_round;cg_rec 3
kmain;cg_round;cg_rec;cg_rec 3
kmain;cg_round;cg_rec;cg_rec;cg_rec 3
kmain;cg_round;cg_rec;cg_rec;cg_rec;cg_rec 3
kmain;cg_round;cg_rec;cg_rec;cg_rec;cg_rec;cg_leaf 3
kmain;cg_round;cg_stdcall 3
kmain;cg_round;cg_straddle 3
kmain;cg_round;cg_straddle;cg_leaf 3
kmain;cg_round;cg_tail 3"
