/*
 * callgraph's hand-written functions for aarch64 (tests/guest/callgraph.c
 * has the x86 ones and says what each is for), with CFI so that a
 * debugger unwinds through them.  Arm has no "ret $8" and no call that
 * straddles pages; where x86's case has no Arm twin, the nearest Arm
 * case stands in, said at each.
 */
	.text

/* cg_setjmp(buf): x19..x30 and sp into buf[0..12]; 0. */
	.globl	cg_setjmp
	.type	cg_setjmp, %function
cg_setjmp:
	.cfi_startproc
	stp	x19, x20, [x0, #0]
	stp	x21, x22, [x0, #16]
	stp	x23, x24, [x0, #32]
	stp	x25, x26, [x0, #48]
	stp	x27, x28, [x0, #64]
	stp	x29, x30, [x0, #80]
	mov	x9, sp
	str	x9, [x0, #96]
	mov	w0, #0
	ret
	.cfi_endproc
	.size	cg_setjmp, . - cg_setjmp

/* cg_longjmp(buf, val): a branch, not a ret: nothing tells of the frames. */
	.globl	cg_longjmp
	.type	cg_longjmp, %function
cg_longjmp:
	.cfi_startproc
	ldp	x19, x20, [x0, #0]
	ldp	x21, x22, [x0, #16]
	ldp	x23, x24, [x0, #32]
	ldp	x25, x26, [x0, #48]
	ldp	x27, x28, [x0, #64]
	ldp	x29, x30, [x0, #80]
	ldr	x9, [x0, #96]
	mov	sp, x9
	mov	w0, w1
	br	x30
	.cfi_endproc
	.size	cg_longjmp, . - cg_longjmp

/* The bl is the last instruction of a page: it returns to a page's start. */
	.balign	4096
	.skip	4096 - 12
	.globl	cg_page_end
	.type	cg_page_end, %function
cg_page_end:
	.cfi_startproc
	stp	x29, x30, [sp, #-16]!
	.cfi_def_cfa_offset 16
	.cfi_offset 29, -16
	.cfi_offset 30, -8
	mov	w0, #5
	bl	cg_leaf
	ldp	x29, x30, [sp], #16
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
	.size	cg_page_end, . - cg_page_end

/* No A64 instruction straddles a page: here the bl opens a page. */
	.balign	4096
	.globl	cg_straddle
	.type	cg_straddle, %function
cg_straddle:
	.cfi_startproc
	mov	x9, x30
	.cfi_register 30, 9
	mov	w0, #6
	bl	cg_leaf
	ret	x9
	.cfi_endproc
	.size	cg_straddle, . - cg_straddle

/* Entry and call in one block (lr must be saved first on Arm). */
	.globl	cg_entry_call
	.type	cg_entry_call, %function
cg_entry_call:
	.cfi_startproc
	stp	x29, x30, [sp, #-16]!
	.cfi_def_cfa_offset 16
	.cfi_offset 29, -16
	.cfi_offset 30, -8
	bl	cg_leaf
	ldp	x29, x30, [sp], #16
	.cfi_def_cfa_offset 0
	ret
	.cfi_endproc
	.size	cg_entry_call, . - cg_entry_call

/* get-PC: a call that returns only through its caller's return address. */
	.globl	cg_getpc
	.type	cg_getpc, %function
cg_getpc:
	.cfi_startproc
	mov	x9, x30
	.cfi_register 30, 9
	bl	cg_getpc_body
	.cfi_endproc
	.size	cg_getpc, . - cg_getpc
	.globl	cg_getpc_body
	.type	cg_getpc_body, %function
cg_getpc_body:
	.cfi_startproc
	.cfi_register 30, 9
	mov	x0, x30
	ret	x9
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

/* x86's "ret $8" has no twin: a return through another register. */
	.globl	cg_stdcall
	.type	cg_stdcall, %function
cg_stdcall:
	.cfi_startproc
	mov	x9, x30
	.cfi_register 30, 9
	add	w0, w0, w1
	ret	x9
	.cfi_endproc
	.size	cg_stdcall, . - cg_stdcall

	.section .note.GNU-stack, "", %progbits
