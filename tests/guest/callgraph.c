/*
 * callgraph: a guest with a known call graph, for callstack_instr.
 *
 * rounds=N (default 3) rounds of cg_round(), which makes, in order:
 * direct calls, an indirect call, recursion, a call through a function-
 * pointer table, a longjmp out of two frames, calls placed at page (and
 * so block) boundaries, a function whose first instruction is a call, a
 * call that never returns by ret (get-PC), a tail call and a "ret $8";
 * on Arm, an svc whose handler makes calls, and on arm conditional calls
 * and returns.  Then it exits with status 0.  The expected counts and folded stacks are
 * in tests/integration/callstack.t; change them together.
 *
 * Built with -fno-optimize-sibling-calls (guest.mk): each C call here is a
 * call instruction, the only tail call is the explicit one in cg_tail.
 *
 * The same program for the Arm guests (a64-, a32-, t32-callgraph.elf): the
 * hand-written functions are in tests/guest/arm/callgraph-*.S there.
 */
#include "libguest.h"

#ifdef __clang__	/* the Arm guests' compiler has no noipa */
#define NOIPA __attribute__((noinline))
#else
#define NOIPA __attribute__((noipa))
#endif
#if defined(__i386__)
#define STDCALL __attribute__((stdcall))
#else
#define STDCALL
#endif

volatile unsigned sink;

NOIPA unsigned cg_leaf(unsigned x)
{
	return x * 3 + 1;
}

NOIPA unsigned cg_direct(unsigned x)
{
	return cg_leaf(x) + cg_leaf(x + 1);
}

NOIPA unsigned cg_ind_target(unsigned x)
{
	return x ^ 0x5a;
}

/* volatile: the compiler must load it and emit "call *". */
unsigned (*volatile cg_fp)(unsigned) = cg_ind_target;

NOIPA unsigned cg_indirect(unsigned x)
{
	return cg_fp(x) + 1;
}

NOIPA unsigned cg_rec(unsigned n)
{
	unsigned r;

	if (!n)
		return cg_leaf(0);
	r = cg_rec(n - 1);
	sink = r;	/* a side effect after the call: no accumulator loop */
	return r + 1;
}

NOIPA unsigned cg_op_add(unsigned x)
{
	return x + 7;
}

NOIPA unsigned cg_op_mul(unsigned x)
{
	return x * 7;
}

NOIPA unsigned cg_op_xor(unsigned x)
{
	return x ^ 7;
}

unsigned (*cg_ops[3])(unsigned) = { cg_op_add, cg_op_mul, cg_op_xor };

NOIPA unsigned cg_dispatch(unsigned i, unsigned x)
{
	return cg_ops[i](x);
}

/* setjmp/longjmp, in assembly: ebx esi edi ebp esp eip (Arm: more). */
unsigned cg_setjmp(unsigned long *buf) __attribute__((returns_twice));
__attribute__((noreturn)) void cg_longjmp(unsigned long *buf, unsigned val);

static unsigned long jb[16];

NOIPA void cg_lj_deep(unsigned x)
{
	if (x)
		cg_longjmp(jb, x);
	sink = 0;
}

NOIPA void cg_lj_mid(unsigned x)
{
	cg_lj_deep(x);
	sink = 1;
}

/* cg_lj_mid never returns: its frames go at cg_lj_try's own ret. */
NOIPA unsigned cg_lj_try(unsigned x)
{
	unsigned v = cg_setjmp(jb);

	if (v)
		return v + 1;
	cg_lj_mid(x);
	return 0;
}

/* In assembly below. */
unsigned cg_page_end(void);
unsigned cg_straddle(void);
unsigned cg_entry_call(void);
unsigned cg_getpc(void);
unsigned cg_tail(unsigned x);
STDCALL unsigned cg_stdcall(unsigned a, unsigned b);

#if defined(__aarch64__) || defined(__arm__)
/*
 * Arm: an exception taken in the middle of a call chain.  cg_svc's svc
 * enters crt0's handler, which calls arm_trap(), which calls arm_svc()
 * and cg_in_svc(); the exception return then resumes cg_svc.  Those calls
 * stack on cg_svc's frames (the handler runs on the same stack) and
 * return before cg_svc does.  On arm the svc is taken in the mode the
 * guest runs in, SVC mode, and overwrites lr: said to the compiler.
 */
NOIPA unsigned cg_in_svc(unsigned x)
{
	return x + 1;
}

void arm_svc(void)
{
	sink = cg_in_svc(sink);
}

NOIPA unsigned cg_svc(unsigned x)
{
#ifdef __arm__
	__asm__ volatile("svc #0" ::: "memory", "lr");
#else
	__asm__ volatile("svc #0" ::: "memory");
#endif
	return x + 2;
}
#define CG_SVC(i)	(sink = cg_svc(i))
#else
#define CG_SVC(i)	((void)(i))
#endif
#ifdef __arm__
/* Conditional calls and returns (tests/guest/arm/callgraph-a32.S). */
unsigned cg_cond(unsigned x);
#define CG_COND(i)	(sink = cg_cond((i) + 1))
#else
#define CG_COND(i)	((void)(i))
#endif

NOIPA void cg_round(unsigned i)
{
	sink = cg_direct(i);
	sink = cg_indirect(i);
	sink = cg_rec(3);
	sink = cg_dispatch(i % 3, i);
	sink = cg_lj_try(i + 1);
	sink = cg_page_end();
	sink = cg_straddle();
	sink = cg_entry_call();
	sink = cg_getpc();
	sink = cg_tail(i);
	sink = cg_stdcall(i, 2);
	CG_SVC(i);
	CG_COND(i);
}

unsigned kmain(unsigned magic, struct mb_info *info)
{
	unsigned rounds, i;

	(void)magic;
	serial_init();
	rounds = cmdline_uint(info, "rounds", 3);
	serial_puts("callgraph: start\n");
	for (i = 0; i < rounds; i++)
		cg_round(i);
	serial_puts("callgraph: done\n");
	guest_exit(0);
}

#if defined(__i386__)
/*
 * The hand-written functions, with CFI so that gdb (the oracle in
 * callstack-gdb.t) unwinds through them.
 */
__asm__(
	"	.text\n"
	"	.globl cg_setjmp\n"
	"	.type cg_setjmp, @function\n"
	"cg_setjmp:\n"
	"	.cfi_startproc\n"
	"	movl 4(%esp), %eax\n"
	"	movl %ebx, 0(%eax)\n"
	"	movl %esi, 4(%eax)\n"
	"	movl %edi, 8(%eax)\n"
	"	movl %ebp, 12(%eax)\n"
	"	leal 4(%esp), %ecx\n"
	"	movl %ecx, 16(%eax)\n"
	"	movl (%esp), %ecx\n"
	"	movl %ecx, 20(%eax)\n"
	"	xorl %eax, %eax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size cg_setjmp, . - cg_setjmp\n"
	/* A jump, not a ret: nothing tells callstack_instr about it. */
	"	.globl cg_longjmp\n"
	"	.type cg_longjmp, @function\n"
	"cg_longjmp:\n"
	"	.cfi_startproc\n"
	"	movl 4(%esp), %edx\n"
	"	movl 8(%esp), %eax\n"
	"	movl 0(%edx), %ebx\n"
	"	movl 4(%edx), %esi\n"
	"	movl 8(%edx), %edi\n"
	"	movl 12(%edx), %ebp\n"
	"	movl 16(%edx), %esp\n"
	"	jmp *20(%edx)\n"
	"	.cfi_endproc\n"
	"	.size cg_longjmp, . - cg_longjmp\n"
	/* The call's last byte ends a page: it returns to a page's start. */
	"	.balign 4096\n"
	"	.skip 4096 - 7\n"
	"	.globl cg_page_end\n"
	"	.type cg_page_end, @function\n"
	"cg_page_end:\n"
	"	.cfi_startproc\n"
	"	pushl $5\n"			/* 2 bytes */
	"	.cfi_adjust_cfa_offset 4\n"
	"	call cg_leaf\n"			/* 5 bytes, ends the page */
	"	addl $4, %esp\n"
	"	.cfi_adjust_cfa_offset -4\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size cg_page_end, . - cg_page_end\n"
	/* The call straddles a page boundary: a block of its own. */
	"	.balign 4096\n"
	"	.skip 4096 - 4\n"
	"	.globl cg_straddle\n"
	"	.type cg_straddle, @function\n"
	"cg_straddle:\n"
	"	.cfi_startproc\n"
	"	pushl $6\n"
	"	.cfi_adjust_cfa_offset 4\n"
	"	call cg_leaf\n"			/* bytes 4094..4098 */
	"	addl $4, %esp\n"
	"	.cfi_adjust_cfa_offset -4\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size cg_straddle, . - cg_straddle\n"
	/* The first block is the call: entry and call in one block. */
	"	.globl cg_entry_call\n"
	"	.type cg_entry_call, @function\n"
	"cg_entry_call:\n"
	"	.cfi_startproc\n"
	"	call cg_leaf\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size cg_entry_call, . - cg_entry_call\n"
	/* get-PC: a call that returns only through its caller's ret. */
	"	.globl cg_getpc\n"
	"	.type cg_getpc, @function\n"
	"cg_getpc:\n"
	"	.cfi_startproc\n"
	"	call cg_getpc_body\n"
	"	.cfi_endproc\n"
	"	.size cg_getpc, . - cg_getpc\n"
	"	.globl cg_getpc_body\n"
	"	.type cg_getpc_body, @function\n"
	"cg_getpc_body:\n"
	"	.cfi_startproc\n"
	"	.cfi_adjust_cfa_offset 4\n"
	"	popl %eax\n"
	"	.cfi_adjust_cfa_offset -4\n"
	"	ret\n"
	"	.cfi_endproc\n"
	"	.size cg_getpc_body, . - cg_getpc_body\n"
	/* A tail call: cg_ind_target returns for cg_tail. */
	"	.globl cg_tail\n"
	"	.type cg_tail, @function\n"
	"cg_tail:\n"
	"	.cfi_startproc\n"
	"	jmp cg_ind_target\n"
	"	.cfi_endproc\n"
	"	.size cg_tail, . - cg_tail\n"
	/* stdcall: the callee pops its two arguments, "ret $8". */
	"	.globl cg_stdcall\n"
	"	.type cg_stdcall, @function\n"
	"cg_stdcall:\n"
	"	.cfi_startproc\n"
	"	movl 4(%esp), %eax\n"
	"	addl 8(%esp), %eax\n"
	"	ret $8\n"
	"	.cfi_endproc\n"
	"	.size cg_stdcall, . - cg_stdcall\n");
#endif
