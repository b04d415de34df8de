/*
 * lm64-crt0: entry point of the x86_64 (long mode) test guests.
 *
 * QEMU's multiboot loader only takes ELF32 kernels and enters them in
 * 32-bit protected mode, paging off.  So this file starts in 32-bit code:
 * it identity-maps the first 1 GiB with 2 MiB pages, turns on PAE, long
 * mode (EFER.LME) and paging, loads a GDT with a 64-bit code segment and
 * jumps to it; the 64-bit half sets a stack and calls
 * kmain(magic, info), the same entry as the i386 guests' (libguest.h).
 *
 * The guest is compiled and linked as x86_64 and converted to an ELF32
 * container by objcopy (tests/guest/guest.mk): everything lies below 4 GiB,
 * so the 32-bit addresses are the real ones.  Memory above 1 GiB is not
 * mapped: a test may use such an address as a bad pointer.
 */

#define MB_MAGIC	0x1BADB002
#define MB_FLAGS	((1 << 0) | (1 << 1))	/* page-align modules, meminfo */

#define CR0_PG		0x80000000
#define CR0_MP		0x00000002
#define CR4_PAE		0x00000020
#define CR4_OSFXSR	0x00000200
#define CR4_OSXMMEXCPT	0x00000400
#define MSR_EFER	0xC0000080
#define EFER_LME	0x00000100
#define PTE_P_RW	0x003
#define PDE_2M		0x083		/* present, writable, 2 MiB page */

#define STACK_SIZE	16384

	.section .multiboot, "a"
	.balign 4
	.long	MB_MAGIC
	.long	MB_FLAGS
	.long	-(MB_MAGIC + MB_FLAGS)

	.text
	.code32
	.globl	_start
	.type	_start, @function
_start:
	cld
	movl	$stack_top, %esp
	movl	%eax, mb_magic
	movl	%ebx, mb_info

	/* Zero .bss (page tables and stack live there). */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	xorl	%eax, %eax
	rep stosb

	/* PML4[0] -> PDPT, PDPT[0] -> PD, PD[i] -> i * 2 MiB. */
	movl	$pdpt, %eax
	orl	$PTE_P_RW, %eax
	movl	%eax, pml4
	movl	$pd, %eax
	orl	$PTE_P_RW, %eax
	movl	%eax, pdpt
	xorl	%ecx, %ecx
1:	movl	%ecx, %eax
	shll	$21, %eax
	orl	$PDE_2M, %eax
	movl	%eax, pd(, %ecx, 8)
	incl	%ecx
	cmpl	$512, %ecx
	jne	1b

	/* SSE on too: compilers may use it even in freestanding code. */
	movl	%cr4, %eax
	orl	$(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
	movl	%eax, %cr4
	movl	$pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	orl	$(CR0_PG | CR0_MP), %eax
	movl	%eax, %cr0

	lgdt	gdt_desc
	ljmp	$0x08, $start64

	.code64
start64:
	movl	$0x10, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	movq	$stack_top, %rsp
	movl	mb_magic(%rip), %edi
	movl	mb_info(%rip), %esi
	call	kmain

	/* kmain returned: exit QEMU with its return value. */
	movl	%eax, %edi
	call	guest_exit
1:	cli
	hlt
	jmp	1b
	.size	_start, . - _start

	.section .rodata
	.balign	8
gdt:
	.quad	0			/* null */
	.quad	0x00af9a000000ffff	/* 0x08: 64-bit code, DPL 0 */
	.quad	0x00cf92000000ffff	/* 0x10: data */
gdt_end:
gdt_desc:
	.word	gdt_end - gdt - 1
	.long	gdt

	.data
	.balign	4
mb_magic:
	.long	0
mb_info:
	.long	0

	.bss
	.balign	4096
pml4:
	.skip	4096
pdpt:
	.skip	4096
pd:
	.skip	4096
	.balign	16
stack:
	.skip	STACK_SIZE
stack_top:

	.section .note.GNU-stack, "", @progbits
