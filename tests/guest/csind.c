/*
 * csind: indirect calls whose callee callstack_instr reads from the
 * call's operand before the call runs, on i386 (csind.elf) and x86_64 in
 * long mode (lm64-csind.elf).
 *
 * rounds=N (default 3) rounds of ci_round(), which calls one function per
 * kind of operand; each makes one indirect call to a callee of its own,
 * named after it (ci_reg calls ci_t_reg):
 *  - through a register (and r12 on x86_64: a REX register);
 *  - through memory: base + index * scale + displacement, an absolute
 *    address, the stack pointer, and the slot the call's own push
 *    overwrites (-8(%rsp): the pointer is gone once the call has run);
 *  - x86_64 only: rip-relative, through fs and gs (bases set with wrmsr;
 *    the same offsets without the base hold other callees) and with a
 *    32-bit address (an 0x67 prefix);
 *  - far calls through memory (lcall m16:32, and m16:64 on x86_64) to
 *    callees that return with lret (lretq); one of them (ci_t_farpc)
 *    leaves a get-PC frame above its own, and its caller calls ci_t_reg
 *    after it returns.
 * Then it exits with status 0.  The expected folded stacks are in
 * tests/integration/callstack-indirect.t; change them together.
 */
#include "libguest.h"

volatile unsigned sink;

void ci_round(void);
/* Far pointers: offset, then the selector, filled in at run time. */
extern unsigned ci_farp[2];
extern unsigned ci_farpq[3];
extern unsigned ci_farpc_p[2];

#ifdef __x86_64__
static void wrmsr(unsigned msr, unsigned long v)
{
	__asm__ volatile("wrmsr" :: "c"(msr), "a"((unsigned)v),
			 "d"((unsigned)(v >> 32)));
}
#endif

unsigned kmain(unsigned magic, struct mb_info *info)
{
	unsigned rounds, i, cs;

	(void)magic;
	serial_init();
	rounds = cmdline_uint(info, "rounds", 3);
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	ci_farp[1] = cs;
	ci_farpq[2] = cs;
	ci_farpc_p[1] = cs;
#ifdef __x86_64__
	extern unsigned long ci_fs_area[], ci_gs_area[];

	wrmsr(0xc0000100, (unsigned long)ci_fs_area);	/* FS_BASE */
	wrmsr(0xc0000101, (unsigned long)ci_gs_area);	/* GS_BASE */
#endif
	serial_puts("csind: start\n");
	for (i = 0; i < rounds; i++)
		ci_round();
	serial_puts("csind: done\n");
	guest_exit(0);
}

/* FN: a function of its own, with a symbol for the folded stacks. */
#define FN(name)	"	.globl " #name "\n	.type " #name ", @function\n" #name ":\n"
#define END(name)	"	.size " #name ", . - " #name "\n"
#define CALLEE(name)	FN(name) "	ret\n" END(name)

#ifdef __x86_64__
#define AX	"%rax"
#define SP	"%rsp"
#define DX	"%rdx"
#define CX	"%rcx"
#define W	"8"		/* bytes of a pointer */
#define PTR	".quad"
#define MOVW	"movq"
#define FARP	"ci_farp(%rip)"
#define FARPC	"ci_farpc_p(%rip)"
#else
#define AX	"%eax"
#define SP	"%esp"
#define DX	"%edx"
#define CX	"%ecx"
#define W	"4"
#define PTR	".long"
#define MOVW	"movl"
#define FARP	"ci_farp"
#define FARPC	"ci_farpc_p"
#endif

__asm__(
	"	.text\n"
	CALLEE(ci_t_reg)
	CALLEE(ci_t_mem)
	CALLEE(ci_t_abs)
	CALLEE(ci_t_sp)
	CALLEE(ci_t_ovl)
	CALLEE(ci_t_r12)
	CALLEE(ci_t_rip)
	CALLEE(ci_t_fs)
	CALLEE(ci_t_gs)
	CALLEE(ci_t_a32)
	CALLEE(ci_wrong)
	FN(ci_t_far)
	"	lretl\n"
	END(ci_t_far)

	FN(ci_reg)
	"	mov $ci_t_reg, %eax\n"
	"	call *" AX "\n"
	"	ret\n"
	END(ci_reg)
	FN(ci_mem)
	"	mov $ci_tab, %edx\n"
	"	mov $1, %ecx\n"
	"	call *" W "(" DX "," CX "," W ")\n"	/* ci_tab[2] */
	"	ret\n"
	END(ci_mem)
	FN(ci_abs)
	"	call *ci_tab+3*" W "\n"		/* ci_tab[3] */
	"	ret\n"
	END(ci_abs)
	FN(ci_sp)
	"	push $ci_t_sp\n"
	"	call *(" SP ")\n"
	"	add $" W ", " SP "\n"
	"	ret\n"
	END(ci_sp)
	FN(ci_ovl)
	"	" MOVW " $ci_t_ovl, -" W "(" SP ")\n"
	"	call *-" W "(" SP ")\n"		/* its push overwrites it */
	"	ret\n"
	END(ci_ovl)
	FN(ci_far)
	"	lcall *" FARP "\n"
	"	ret\n"
	END(ci_far)
	/*
	 * A far callee that leaves a get-PC frame above its own: its lret
	 * pops the frame below the top one, found by the stack pointer the
	 * lret leaves.  ci_farpc's next call then stacks on ci_farpc.
	 */
	FN(ci_t_farpc)
	"	call 1f\n"
	"1:	pop " AX "\n"
	"	lretl\n"
	END(ci_t_farpc)
	FN(ci_farpc)
	"	lcall *" FARPC "\n"
	"	call ci_t_reg\n"
	"	ret\n"
	END(ci_farpc)

	"	.data\n"
	"	.balign 16\n"
	"ci_tab:\n"
	"	" PTR " ci_wrong, ci_wrong, ci_t_mem, ci_t_abs, ci_t_rip, ci_t_a32\n"
	"	.globl ci_farp, ci_farpq, ci_farpc_p\n"
	"ci_farp:\n"
	"	.long ci_t_far, 0\n"
	"ci_farpc_p:\n"
	"	.long ci_t_farpc, 0\n"
	"	.text\n"
#ifdef __x86_64__
	FN(ci_t_farq)
	"	lretq\n"
	END(ci_t_farq)
	FN(ci_r12)
	"	push %r12\n"
	"	mov $ci_t_r12, %r12d\n"
	"	call *%r12\n"
	"	pop %r12\n"
	"	ret\n"
	END(ci_r12)
	FN(ci_rip)
	"	call *ci_tab+32(%rip)\n"	/* ci_tab[4] */
	"	ret\n"
	END(ci_rip)
	FN(ci_fs)
	"	call *%fs:8\n"
	"	ret\n"
	END(ci_fs)
	FN(ci_gs)
	"	call *%gs:16\n"
	"	ret\n"
	END(ci_gs)
	FN(ci_a32)
	"	mov $ci_tab, %edx\n"
	"	addr32 call *40(%edx)\n"	/* ci_tab[5] */
	"	ret\n"
	END(ci_a32)
	FN(ci_farq)
	"	rex64 lcall *ci_farpq(%rip)\n"
	"	ret\n"
	END(ci_farq)
#endif

	FN(ci_round)
	"	call ci_reg\n"
	"	call ci_mem\n"
	"	call ci_abs\n"
	"	call ci_sp\n"
	"	call ci_ovl\n"
	"	call ci_far\n"
	"	call ci_farpc\n"
#ifdef __x86_64__
	"	call ci_r12\n"
	"	call ci_rip\n"
	"	call ci_fs\n"
	"	call ci_gs\n"
	"	call ci_a32\n"
	"	call ci_farq\n"
#endif
	"	ret\n"
	END(ci_round)

	"	.data\n"
#ifdef __x86_64__
	/* Read at fs:8 and gs:16; at 8 and 16 without the bases: ci_wrong. */
	"	.globl ci_fs_area, ci_gs_area\n"
	"ci_fs_area:\n"
	"	.quad ci_wrong, ci_t_fs\n"
	"ci_gs_area:\n"
	"	.quad ci_wrong, ci_wrong, ci_t_gs\n"
	"ci_farpq:\n"
	"	.quad ci_t_farq\n"
	"	.long 0\n"
#else
	"ci_farpq:\n"
	"	.long 0, 0, 0\n"
#endif
	"	.text\n");
