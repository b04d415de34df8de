/*
 * callgraph's hand-written functions for arm, assembled in the guest's
 * state: ARM for a32-callgraph.elf, Thumb for t32-callgraph.elf
 * (tests/guest/callgraph.c has the x86 ones and says what each is for),
 * with CFI so that a debugger unwinds through them.  Where x86's case has
 * no Arm twin, the nearest Arm case stands in, said at each.
 */
	.syntax	unified
#ifdef __thumb__	/* -mthumb sets the C compiler's state, not the assembler's */
	.thumb
#else
	.arm
#endif
	.text

/* cg_setjmp(buf): r4..r11, sp, lr into buf[0..9]; 0. */
	.globl	cg_setjmp
	.type	cg_setjmp, %function
cg_setjmp:
	.cfi_startproc
	stm	r0, {r4-r11}
	mov	r2, sp
	str	r2, [r0, #32]
	str	lr, [r0, #36]
	movs	r0, #0
	bx	lr
	.cfi_endproc
	.size	cg_setjmp, . - cg_setjmp

/* cg_longjmp(buf, val): a branch, not a return: nothing tells of the frames. */
	.globl	cg_longjmp
	.type	cg_longjmp, %function
cg_longjmp:
	.cfi_startproc
	ldm	r0, {r4-r11}
	ldr	r2, [r0, #32]
	mov	sp, r2
	ldr	lr, [r0, #36]
	mov	r0, r1
	bx	lr
	.cfi_endproc
	.size	cg_longjmp, . - cg_longjmp

/* The bl is the last instruction of a page: it returns to a page's start. */
#ifdef __thumb__
#define PAGE_END_HEAD	8	/* push, movs: 2 bytes each; bl: 4 */
#else
#define PAGE_END_HEAD	12
#endif
	.balign	4096
	.skip	4096 - PAGE_END_HEAD
	.globl	cg_page_end
	.type	cg_page_end, %function
cg_page_end:
	.cfi_startproc
	push	{r4, lr}
	.cfi_def_cfa_offset 8
	.cfi_offset 4, -8
	.cfi_offset 14, -4
	movs	r0, #5
	bl	cg_leaf
	pop	{r4, pc}
	.cfi_endproc
	.size	cg_page_end, . - cg_page_end

/*
 * Thumb: the 32-bit bl straddles the page boundary (bytes 4094..4097).
 * ARM state has no such instruction: there the bl opens a page.
 */
	.balign	4096
#ifdef __thumb__
	.skip	4096 - 6
#endif
	.globl	cg_straddle
	.type	cg_straddle, %function
cg_straddle:
	.cfi_startproc
#ifdef __thumb__
	push	{r4, lr}
	.cfi_def_cfa_offset 8
	.cfi_offset 4, -8
	.cfi_offset 14, -4
	movs	r0, #6
	bl	cg_leaf
	pop	{r4, pc}
#else
	mov	r12, lr
	.cfi_register 14, 12
	mov	r0, #6
	bl	cg_leaf
	bx	r12
#endif
	.cfi_endproc
	.size	cg_straddle, . - cg_straddle

/* Entry and call in one block (lr must be saved first on Arm). */
	.globl	cg_entry_call
	.type	cg_entry_call, %function
cg_entry_call:
	.cfi_startproc
	push	{r4, lr}
	.cfi_def_cfa_offset 8
	.cfi_offset 4, -8
	.cfi_offset 14, -4
	bl	cg_leaf
	pop	{r4, pc}
	.cfi_endproc
	.size	cg_entry_call, . - cg_entry_call

/* get-PC: a call that returns only through its caller's return address. */
	.globl	cg_getpc
	.type	cg_getpc, %function
cg_getpc:
	.cfi_startproc
	mov	r12, lr
	.cfi_register 14, 12
	bl	cg_getpc_body
	.cfi_endproc
	.size	cg_getpc, . - cg_getpc
	.globl	cg_getpc_body
	.type	cg_getpc_body, %function
cg_getpc_body:
	.cfi_startproc
	.cfi_register 14, 12
	mov	r0, lr
	bx	r12
	.cfi_endproc
	.size	cg_getpc_body, . - cg_getpc_body

/* A tail call: cg_ind_target returns for cg_tail. */
	.globl	cg_tail
	.type	cg_tail, %function
cg_tail:
	.cfi_startproc
	b	cg_ind_target
	.cfi_endproc
	.size	cg_tail, . - cg_tail

/* x86's "ret $8" has no twin: a return by ldm of pc. */
	.globl	cg_stdcall
	.type	cg_stdcall, %function
cg_stdcall:
	.cfi_startproc
	push	{r4, lr}
	.cfi_def_cfa_offset 8
	.cfi_offset 4, -8
	.cfi_offset 14, -4
	adds	r0, r0, r1
	ldm	sp!, {r4, pc}
	.cfi_endproc
	.size	cg_stdcall, . - cg_stdcall

/*
 * Arm only: conditional calls and returns, and the returns compilers
 * seldom emit.  cg_cond's first bleq is not taken (x != 0), its second
 * is; cg_cond_ret's bxne is not taken, it returns by ldr pc, [sp], #4;
 * cg_movpc returns by mov pc, lr.  In Thumb state each conditional
 * instruction is in an IT block.
 */
#ifdef __thumb__
#define IT(c)	it c
#else
#define IT(c)
#endif
	.globl	cg_cond
	.type	cg_cond, %function
cg_cond:
	.cfi_startproc
	push	{r4, lr}
	.cfi_def_cfa_offset 8
	.cfi_offset 14, -4
	.cfi_offset 4, -8
	cmp	r0, #0
	IT(eq)
	bleq	cg_leaf
	cmp	r0, r0
	IT(eq)
	bleq	cg_cond_ret
	pop	{r4, pc}
	.cfi_endproc
	.size	cg_cond, . - cg_cond

	.type	cg_cond_ret, %function
cg_cond_ret:
	.cfi_startproc
	cmp	r0, r0
	IT(ne)
	bxne	lr
	str	lr, [sp, #-4]!
	.cfi_def_cfa_offset 4
	.cfi_offset 14, -4
	bl	cg_movpc
	ldr	pc, [sp], #4
	.cfi_endproc
	.size	cg_cond_ret, . - cg_cond_ret

	.type	cg_movpc, %function
cg_movpc:
	.cfi_startproc
	adds	r0, r0, #1
	mov	pc, lr
	.cfi_endproc
	.size	cg_movpc, . - cg_movpc

	.section .note.GNU-stack, "", %progbits
