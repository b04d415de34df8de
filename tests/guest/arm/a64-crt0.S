/*
 * a64-crt0: entry point of the aarch64 test guests (-M virt, EL1, MMU
 * off).  Sets a stack, turns on FP/SIMD (compilers may use it even in
 * freestanding code), installs the vector table, zeroes .bss and calls
 * arm_main() (libguest-arm.c), which calls the guest's kmain().
 *
 * Only the first CPU runs C: QEMU starts the others at this entry too
 * (a bare-metal image) unless PSCI holds them off; they park in wfe.
 */
#define STACK_SIZE	16384

	.section .text.boot, "ax"
	.globl	_start
	.type	_start, %function
_start:
	mrs	x0, mpidr_el1
	and	x0, x0, #0xff
	cbnz	x0, park
	ldr	x0, =stack_top
	mov	sp, x0
	mov	x0, #(3 << 20)		/* CPACR_EL1.FPEN: no FP/SIMD traps */
	msr	cpacr_el1, x0
	adr	x0, vectors
	msr	vbar_el1, x0
	isb
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
1:	cmp	x0, x1
	b.hs	2f
	strb	wzr, [x0], #1
	b	1b
2:	bl	arm_main
park:	wfe
	b	park
	.size	_start, . - _start

/*
 * Exceptions: every one goes to arm_trap(kind, esr, elr) with the
 * registers saved; it returns the address to resume at (it steps over a
 * PANDA-form hypercall, which is undefined outside PANDA) or ends the
 * guest.  Only the current-EL-with-SP_ELx entries can happen here.
 */
	.macro	vector kind
	.balign	0x80
	sub	sp, sp, #256
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x30, [sp, #144]
	mov	x0, #\kind
	b	trap_common
	.endm

	.balign	2048
vectors:
	vector	0
	vector	1
	vector	2
	vector	3
	vector	4
	vector	5
	vector	6
	vector	7
	vector	8
	vector	9
	vector	10
	vector	11
	vector	12
	vector	13
	vector	14
	vector	15

trap_common:
	mrs	x1, esr_el1
	mrs	x2, elr_el1
	bl	arm_trap
	msr	elr_el1, x0
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldp	x8, x9, [sp, #64]
	ldp	x10, x11, [sp, #80]
	ldp	x12, x13, [sp, #96]
	ldp	x14, x15, [sp, #112]
	ldp	x16, x17, [sp, #128]
	ldp	x18, x30, [sp, #144]
	add	sp, sp, #256
	eret

	.bss
	.balign	16
stack:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", %progbits
