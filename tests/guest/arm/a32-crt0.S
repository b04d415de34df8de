/*
 * a32-crt0: entry point of the arm (AArch32) test guests (-M virt,
 * -cpu cortex-a15, SVC mode, MMU off).  ARM state here; the guest's own
 * code may be ARM or Thumb (interworking calls).  Built soft-float, so
 * VFP stays off.  Sets the stacks, installs the vector table, zeroes .bss
 * and calls
 * arm_main() (libguest-arm.c), which calls the guest's kmain().
 *
 * Only the first CPU runs C; any other that starts here parks in wfe.
 */
#define STACK_SIZE	16384
#define MODE_UND	0x1b
#define MODE_ABT	0x17
#define MODE_SVC	0x13
#define PSR_I_F		0xc0

	.syntax	unified
	.arm
	.section .text.boot, "ax"
	.globl	_start
	.type	_start, %function
_start:
	mrc	p15, 0, r0, c0, c0, 5	/* MPIDR */
	ands	r0, r0, #0xff
	bne	park
	cps	#MODE_UND
	ldr	sp, =und_stack_top
	cps	#MODE_ABT
	ldr	sp, =und_stack_top
	cps	#MODE_SVC
	ldr	sp, =stack_top
	ldr	r0, =vectors
	mcr	p15, 0, r0, c12, c0, 0	/* VBAR */
	isb
	ldr	r0, =__bss_start
	ldr	r1, =__bss_end
	mov	r2, #0
1:	cmp	r0, r1
	strblo	r2, [r0], #1
	blo	1b
	blx	arm_main
park:	wfe
	b	park
	.size	_start, . - _start

/*
 * Exceptions: arm_trap(kind, status, return address) decides where to
 * resume (it steps over a PANDA-form hypercall, which is undefined
 * outside PANDA) or ends the guest.  For an undefined instruction LR is
 * the instruction + 4 in ARM state, + 2 in Thumb state.
 */
	.balign	32
vectors:
	b	.			/* reset */
	b	undef
	b	other_swi
	b	other_pabt
	b	other_dabt
	b	.
	b	.			/* IRQ: never enabled */
	b	.			/* FIQ */

undef:
	push	{r0-r3, r12, lr}
	mrs	r1, spsr
	tst	r1, #0x20		/* Thumb: the instruction is at LR - 2 */
	subne	r2, lr, #2
	subeq	r2, lr, #4
	mov	r0, #1
	blx	arm_trap
	str	r0, [sp, #20]		/* the saved LR: where to resume */
	pop	{r0-r3, r12, lr}
	movs	pc, lr
/* svc (taken in SVC mode, where the guest runs: its lr is the caller's
 * to save): arm_trap(2, spsr, return address), as for undef. */
other_swi:
	push	{r0-r3, r12, lr}
	mrs	r1, spsr
	mov	r2, lr
	mov	r0, #2
	blx	arm_trap
	str	r0, [sp, #20]
	pop	{r0-r3, r12, lr}
	movs	pc, lr
other_pabt:
	mov	r0, #3
	b	fatal
other_dabt:
	mov	r0, #4
fatal:
	mrs	r1, spsr
	mov	r2, lr
	ldr	sp, =und_stack_top
	blx	arm_trap
	b	.

	.bss
	.balign	8
stack:
	.skip	STACK_SIZE
stack_top:
und_stack:
	.skip	1024
und_stack_top:

	.section .note.GNU-stack, "", %progbits
