/*
 * Entry point for the test guests: a multiboot v1 header followed by
 * _start, which sets up a stack and calls kmain(magic, info).
 *
 * The loader enters _start in 32-bit protected mode with paging and
 * interrupts off, %eax = 0x2BADB002 and %ebx = the multiboot info pointer.
 */

#define MB_MAGIC	0x1BADB002
#define MB_PAGE_ALIGN	(1 << 0)	/* modules on page boundaries */
#define MB_MEMINFO	(1 << 1)	/* please fill in mem_lower/mem_upper */
#define MB_FLAGS	(MB_PAGE_ALIGN | MB_MEMINFO)

#define STACK_SIZE	16384

	.section .multiboot, "a"
	.balign 4
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)

	.text
	.globl	_start
	.type	_start, @function
_start:
	cld
	movl	$stack_top, %esp

	/* Zero .bss by hand; the multiboot spec does not promise it for ELF. */
	movl	%eax, %esi
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb
	movl	%esi, %eax

	/*
	 * Two pushes and the return address leave %esp + 4 16-byte aligned
	 * at kmain's entry, as the i386 System V ABI expects.
	 */
	pushl	%ebx			/* struct mb_info *info */
	pushl	%eax			/* unsigned magic */
	call	kmain

	/* kmain returned: exit QEMU with its return value. */
	movl	%eax, (%esp)
	call	guest_exit
1:	cli
	hlt
	jmp	1b
	.size	_start, . - _start

	.bss
	.balign	16
stack:
	.skip	STACK_SIZE
stack_top:

	/* We never need an executable stack; say so to keep ld quiet. */
	.section .note.GNU-stack, "", @progbits
