/*
 * csthunk: calls and returns that callstack_instr sees through memory
 * callbacks, on i386 (csthunk.elf) and x86_64 (lm64-csthunk.elf).
 *
 * rounds=N (default 3) rounds of th_round(), which makes, in order:
 *  - a call through a retpoline-style thunk: th_retpoline calls its own
 *    body, which overwrites the return address with th_target's and
 *    returns there (the ret pops the body's frame with another address);
 *  - a callee-pops call: th_pop_args ends in "ret $N";
 *  - an indirect call through memory to a function whose first
 *    instruction is a call;
 *  - indirect calls through a register at the end of a page and across a
 *    page boundary (a block of their own).
 * Then it exits with status 0.  The expected counts and folded stacks are
 * in tests/integration/callstack-thunk.t; change them together.
 *
 * Built with -fno-optimize-sibling-calls (guest.mk): each C call here is a
 * call instruction.
 */
#include "libguest.h"

#define NOIPA __attribute__((noipa))

volatile unsigned sink;

NOIPA unsigned th_leaf(unsigned x)
{
	return x * 5 + 1;
}

/* Reached by the thunk's ret, not by a call: it has no frame of its own. */
NOIPA unsigned th_target(unsigned x)
{
	return th_leaf(x) + 1;
}

/* In assembly below. */
unsigned th_retpoline(unsigned x);
unsigned th_pop_caller(unsigned a, unsigned b);
unsigned th_entry_call(unsigned x);
unsigned th_ind_page_end(void);
unsigned th_ind_straddle(void);

/* volatile: the compiler must load it and emit an indirect call. */
unsigned (*volatile th_fp)(unsigned) = th_entry_call;

NOIPA unsigned th_indirect(unsigned x)
{
	return th_fp(x) + 1;
}

NOIPA void th_round(unsigned i)
{
	sink = th_retpoline(i);
	sink = th_pop_caller(i, 2);
	sink = th_indirect(i);
	sink = th_ind_page_end();
	sink = th_ind_straddle();
}

unsigned kmain(unsigned magic, struct mb_info *info)
{
	unsigned rounds, i;

	(void)magic;
	serial_init();
	rounds = cmdline_uint(info, "rounds", 3);
	serial_puts("csthunk: start\n");
	for (i = 0; i < rounds; i++)
		th_round(i);
	serial_puts("csthunk: done\n");
	guest_exit(0);
}

#ifdef __x86_64__
#define SP	"%rsp"
#define AX	"%rax"
#define POP	"16"
#else
#define SP	"%esp"
#define AX	"%eax"
#define POP	"8"
#endif

__asm__(
	"	.text\n"
	/*
	 * unsigned th_retpoline(unsigned x): returns th_target(x).  The
	 * target runs with th_retpoline's stack pointer, so it finds x where
	 * th_retpoline did and returns straight to th_retpoline's caller.
	 */
	"	.globl th_retpoline\n"
	"	.type th_retpoline, @function\n"
	"th_retpoline:\n"
	"	mov $th_target, %eax\n"
	"	call th_rp_body\n"
	"th_rp_trap:\n"
	"	pause\n"
	"	lfence\n"
	"	jmp th_rp_trap\n"
	"	.size th_retpoline, . - th_retpoline\n"
	"	.globl th_rp_body\n"
	"	.type th_rp_body, @function\n"
	"th_rp_body:\n"
	"	mov " AX ", (" SP ")\n"
	"	ret\n"
	"	.size th_rp_body, . - th_rp_body\n"
	/*
	 * unsigned th_pop_caller(unsigned a, unsigned b): pushes a and b as
	 * stack arguments for th_pop_args, which pops them with its ret.
	 */
	"	.globl th_pop_caller\n"
	"	.type th_pop_caller, @function\n"
	"th_pop_caller:\n"
#ifdef __x86_64__
	"	push %rsi\n"
	"	push %rdi\n"
#else
	"	pushl 8(%esp)\n"
	"	pushl 8(%esp)\n"
#endif
	"	call th_pop_args\n"
	"	ret\n"
	"	.size th_pop_caller, . - th_pop_caller\n"
	/* th_leaf(a) + b; the callee pops its two arguments. */
	"	.globl th_pop_args\n"
	"	.type th_pop_args, @function\n"
	"th_pop_args:\n"
#ifdef __x86_64__
	"	mov 8(%rsp), %edi\n"
	"	call th_leaf\n"
	"	add 16(%rsp), %eax\n"
#else
	"	pushl 4(%esp)\n"
	"	call th_leaf\n"
	"	addl $4, %esp\n"
	"	addl 8(%esp), %eax\n"
#endif
	"	ret $" POP "\n"
	"	.size th_pop_args, . - th_pop_args\n"
	/* The first instruction is a call: entry and call in one block. */
	"	.globl th_entry_call\n"
	"	.type th_entry_call, @function\n"
	"th_entry_call:\n"
	"	call th_leaf\n"
	"	ret\n"
	"	.size th_entry_call, . - th_entry_call\n"
	/* "call *%eax" ends a page: it returns to the next page's start. */
	"	.balign 4096\n"
	"	.skip 4096 - 7\n"
	"	.globl th_ind_page_end\n"
	"	.type th_ind_page_end, @function\n"
	"th_ind_page_end:\n"
	"	mov $th_leaf, %eax\n"		/* 5 bytes */
	"	call *" AX "\n"			/* 2 bytes, ends the page */
	"	ret\n"
	"	.size th_ind_page_end, . - th_ind_page_end\n"
	/* "call *%eax" straddles a page boundary. */
	"	.balign 4096\n"
	"	.skip 4096 - 6\n"
	"	.globl th_ind_straddle\n"
	"	.type th_ind_straddle, @function\n"
	"th_ind_straddle:\n"
	"	mov $th_leaf, %eax\n"
	"	call *" AX "\n"			/* bytes 4095 and 4096 */
	"	ret\n"
	"	.size th_ind_straddle, . - th_ind_straddle\n");
