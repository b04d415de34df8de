/*
 * smp: hypercalls from every vCPU at once (tests/integration/python-smp.t).
 *
 * The boot CPU wakes the others (INIT, then STARTUP IPIs to a real-mode
 * trampoline copied to 0x8000, which enters protected mode with a flat
 * GDT of its own and jumps to ap_entry32); then every CPU makes
 * hypercalls (magic M, first argument its CPU number, second its running
 * count) until a byte arrives on COM2.  The boot CPU prints each CPU's
 * count and their total, "smp: sent T (c0 c1 ...)", and exits 0.
 *
 * Command line: cpus=N (default 4) magic=M (default 0x12345600).
 */
#include <modhost/guest.h>

#include "libguest.h"

#define LAPIC		0xFEE00000u
#define LAPIC_SVR	0xF0
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define ICR_ALL_BUT_SELF	(3u << 18)
#define ICR_ASSERT	(1u << 14)
#define ICR_INIT	(5u << 8)
#define ICR_STARTUP	(6u << 8)
#define ICR_PENDING	(1u << 12)
#define TRAMPOLINE	0x8000u

#define MAX_CPUS	8
#define COM2_LSR	(0x2f8 + 5)
#define UART_LSR_DR	0x01

/*
 * The trampoline: 16-bit code the STARTUP IPI starts at 0x0800:0000 (the
 * vector 0x08), copied there by the boot CPU.  Addresses inside it are
 * offsets from its start; ap_entry32 is an absolute one.
 */
__asm__(
	".section .text\n"
	".globl ap_tramp, ap_tramp_end\n"
	".code16\n"
	"ap_tramp:\n"
	"	cli\n"
	"	lgdtl %cs:(ap_gdt_desc - ap_tramp)\n"
	"	movl %cr0, %eax\n"
	"	orl $1, %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $0x08, $ap_entry32\n"
	"	.balign 8\n"
	"ap_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00CF9A000000FFFF\n"	/* 0x08: flat 32-bit code */
	"	.quad 0x00CF92000000FFFF\n"	/* 0x10: flat data */
	"ap_gdt_desc:\n"
	"	.word ap_gdt_desc - ap_gdt - 1\n"
	"	.long 0x8000 + (ap_gdt - ap_tramp)\n"
	"ap_tramp_end:\n"
	".code32\n"
	"ap_entry32:\n"
	"	movw $0x10, %ax\n"
	"	movw %ax, %ds\n"
	"	movw %ax, %es\n"
	"	movw %ax, %ss\n"
	"	movl $1, %eax\n"
	"	lock xaddl %eax, ap_next\n"	/* this CPU's number */
	"	movl %eax, %esp\n"
	"	incl %esp\n"
	"	shll $12, %esp\n"
	"	addl $ap_stacks, %esp\n"	/* top of ap_stacks[n] */
	"	pushl %eax\n"
	"	call ap_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n");

extern const char ap_tramp[], ap_tramp_end[];
void ap_main(unsigned int cpu);

unsigned int ap_next = 1;	/* the next CPU number; the boot CPU is 0 */
char ap_stacks[MAX_CPUS][4096] __attribute__((aligned(16)));

static uint32_t magic;
static volatile unsigned int stop;
static volatile unsigned int started;
static volatile unsigned int counts[MAX_CPUS];
static volatile unsigned int done[MAX_CPUS];

static void lapic_write(unsigned int reg, unsigned int val)
{
	*(volatile unsigned int *)(LAPIC + reg) = val;
}

static unsigned int lapic_read(unsigned int reg)
{
	return *(volatile unsigned int *)(LAPIC + reg);
}

static void ipi_all(unsigned int icr)
{
	lapic_write(LAPIC_ICR_HI, 0);
	lapic_write(LAPIC_ICR_LO, ICR_ALL_BUT_SELF | icr);
	while (lapic_read(LAPIC_ICR_LO) & ICR_PENDING)
		;
}

static void delay(unsigned int n)
{
	for (volatile unsigned int i = 0; i < n; i++)
		;
}

/* Hypercalls until told to stop; the count goes in counts[cpu]. */
static void stream(unsigned int cpu, int boot)
{
	unsigned int n = 0;

	for (;;) {
		if (!(n & 0xff)) {
			if (boot && (inb(COM2_LSR) & UART_LSR_DR))
				stop = 1;
			if (stop)
				break;
		}
		mh_hypercall6(magic, cpu, n, 0, 0, 0, 0);
		n++;
	}
	counts[cpu] = n;
	__atomic_store_n(&done[cpu], 1, __ATOMIC_RELEASE);
}

void ap_main(unsigned int cpu)
{
	__atomic_fetch_add(&started, 1, __ATOMIC_ACQ_REL);
	if (cpu < MAX_CPUS)
		stream(cpu, 0);
}

unsigned kmain(unsigned magic_mb, struct mb_info *info)
{
	unsigned int cpus, total = 0;

	(void)magic_mb;
	serial_init();
	cpus = cmdline_uint(info, "cpus", 4);
	magic = cmdline_uint(info, "magic", 0x12345600);
	if (cpus < 1 || cpus > MAX_CPUS)
		cpus = 1;
	memcpy((void *)TRAMPOLINE, ap_tramp, ap_tramp_end - ap_tramp);
	lapic_write(LAPIC_SVR, 0x1ff);	/* software-enabled */
	ipi_all(ICR_ASSERT | ICR_INIT);
	delay(100000);
	ipi_all(ICR_ASSERT | ICR_STARTUP | (TRAMPOLINE >> 12));
	delay(10000);
	ipi_all(ICR_ASSERT | ICR_STARTUP | (TRAMPOLINE >> 12));
	while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < cpus - 1)
		;
	serial_puts("smp: start, cpus ");
	put_dec(cpus);
	serial_putc('\n');
	stream(0, 1);
	for (unsigned int i = 1; i < cpus; i++)
		while (!__atomic_load_n(&done[i], __ATOMIC_ACQUIRE))
			;
	for (unsigned int i = 0; i < cpus; i++)
		total += counts[i];
	serial_puts("smp: sent ");
	put_dec(total);
	serial_puts(" (");
	for (unsigned int i = 0; i < cpus; i++) {
		if (i)
			serial_putc(' ');
		put_dec(counts[i]);
	}
	serial_puts(")\n");
	return 0;
}
