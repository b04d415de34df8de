/* SPDX-License-Identifier: MIT */
/*
 * callstack_instr - the consumers' API of the callstack_instr module:
 * shadow call stacks of the guest, reached through the symbol registry.
 *
 * Import the functions with MH_IMPORT() and the signature macros below,
 * and handle the PPP points with api->ppp_register():
 *
 *	static cs_get_callers_t get_callers;
 *	MH_IMPORT("callstack_instr", get_callers, CS_GET_CALLERS_SIG);
 *
 *	api->ppp_register(self, "callstack_instr", "on_call", CS_ON_CALL_SIG,
 *			  (void (*)(void))my_on_call);
 *
 * Guest addresses are uint64_t whatever the guest's mode.  A vCPU is an
 * mh_cpu (module.h), where PANDA passes a CPUState.
 * See modules/callstack_instr/README.md.
 */
#ifndef MODHOST_CALLSTACK_INSTR_H
#define MODHOST_CALLSTACK_INSTR_H

#include <stdbool.h>
#include <stdint.h>

#include <modhost/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The provider's module name, for MH_IMPORT() and ppp_register(). */
#define CS_MODULE "callstack_instr"

/* How stacks are told apart (struct prog_point.stack_kind). */
enum cs_stack_kind {
	CS_STACK_ASID = 0,	/* one stack per address space (cr3) */
	CS_STACK_HEURISTIC = 1,	/* per address space and stack-pointer region */
	CS_STACK_THREADED = 2,	/* per thread, from OS introspection */
};

/**
 * struct prog_point - a program point: where the guest is, in which stack
 * @caller: return address of the innermost frame (0 if the stack is empty)
 * @pc: the vCPU's program counter
 * @sid_first: first half of the stack id: the address space (cr3); for
 *	threaded stacks the process id
 * @sid_second: second half: for heuristic stacks, the stack pointer where
 *	the stack was first seen; for threaded stacks the thread id (an idle
 *	task's: 0x80000000 | its vCPU); 0 for asid stacks
 * @is_kernel_mode: the vCPU runs at privilege level 0
 * @stack_kind: an enum cs_stack_kind
 */
struct prog_point {
	uint64_t caller;
	uint64_t pc;
	uint64_t sid_first;
	uint64_t sid_second;
	bool is_kernel_mode;
	uint32_t stack_kind;
};

/**
 * typedef on_call_t - handler of the PPP point "on_call"
 * @cpu: the vCPU
 * @func: entry address of the function being called
 *
 * Runs once per call, with the new frame on top of the stack:
 * get_functions()[0] is @func.  Where it runs depends on the call: a
 * direct near call (32/64-bit code) runs it right after the call pushed
 * its return address, before the callee's first instruction; an indirect
 * near call, a far call or a call in 16-bit code at the callee's first
 * block (the first block run with the stack pointer the call left).
 * get_prog_point() reports the callee's entry as the pc either way.
 */
typedef void (*on_call_t)(mh_cpu *cpu, uint64_t func);
#define CS_ON_CALL_SIG "v(p,g)"

/**
 * typedef on_ret_t - handler of the PPP point "on_ret"
 * @cpu: the vCPU
 * @func: entry address of the function being returned from
 *
 * Runs once for every frame a return pops, innermost first (a return that
 * skips frames, as after a longjmp, pops several): for a near ret in
 * 32/64-bit code right after it loaded its return address, before the
 * guest runs on; for a far ret or a ret in 16-bit code at the block it
 * lands on.  get_prog_point() reports where the ret goes as the pc.  The
 * frame is still on top while its handlers run.
 */
typedef void (*on_ret_t)(mh_cpu *cpu, uint64_t func);
#define CS_ON_RET_SIG "v(p,g)"

/**
 * get_callers() - return addresses of the current stack, innermost first
 * @callers: filled with up to @n addresses
 * @n: room in @callers
 * @cpu: the vCPU whose current stack is read
 *
 * Call it from an on_call/on_ret handler or from a callback registered
 * with MH_CB_R_REGS: the current stack is chosen from the vCPU's registers.
 *
 * Return: the number of addresses stored.
 */
typedef uint32_t (*cs_get_callers_t)(uint64_t *callers, uint32_t n,
				     mh_cpu *cpu);
#define CS_GET_CALLERS_SIG "u32(p,u32,p)"

/**
 * get_functions() - entry addresses of the current stack's functions,
 * innermost first
 * @functions: filled with up to @n addresses (0 for a function whose entry
 *	was never seen)
 * @n: room in @functions
 * @cpu: the vCPU, as for get_callers()
 *
 * Return: the number of addresses stored.
 */
typedef uint32_t (*cs_get_functions_t)(uint64_t *functions, uint32_t n,
				       mh_cpu *cpu);
#define CS_GET_FUNCTIONS_SIG "u32(p,u32,p)"

/**
 * get_prog_point() - the current program point of @cpu
 * @cpu: the vCPU, as for get_callers()
 * @p: filled in
 */
typedef void (*cs_get_prog_point_t)(mh_cpu *cpu, struct prog_point *p);
#define CS_GET_PROG_POINT_SIG "v(p,p)"

/**
 * get_stackid_string() - the stack id of @p as text
 * @p: a program point from get_prog_point()
 *
 * Return: "asid=0x...", "asid=0x...,sp=0x..." or "pid=P,tid=T" ("pid=0,idle=V"
 * for vCPU V's idle task); free it with free().
 * NULL if callstack_instr was unloaded by force (import stand-in).
 */
typedef char *(*cs_get_stackid_string_t)(const struct prog_point *p);
#define CS_GET_STACKID_STRING_SIG "p(p)"

#ifdef __cplusplus
}
#endif

#endif /* MODHOST_CALLSTACK_INSTR_H */
