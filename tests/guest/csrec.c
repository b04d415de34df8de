/*
 * csrec: recursion for callstack_instr's reload test and benchmark.
 *
 * fib=N: compute fib(N) recursively (fib(N) calls, about 1.6 * 1.618^N),
 * print "csrec: fib N = V", exit 0.  The benchmark's call-heavy guest.
 *
 * deep=N: recurse N frames deep into cs_deep() (32 bytes each: N <= 400
 * fits crt0.S's stack), print "csrec: bottom",
 * wait there until a byte arrives on COM2 (the test reloads
 * callstack_instr meanwhile), print "csrec: up", return all the way and
 * exit 0.
 */
#include "libguest.h"

#define COM2		0x2f8
#define UART_LSR	5
#define UART_LSR_DR	0x01	/* a received byte is waiting */

#ifdef __clang__	/* the Arm guests' compiler has no noipa */
#define NOIPA __attribute__((noinline))
#else
#define NOIPA __attribute__((noipa))
#endif

volatile unsigned sink;

NOIPA unsigned cs_fib(unsigned n)
{
	return n < 2 ? n : cs_fib(n - 1) + cs_fib(n - 2);
}

/* The Arm builds (a64-csrec.elf: make bench's fib) do not wait at the bottom. */
NOIPA void cs_bottom(void)
{
	serial_puts("csrec: bottom\n");
#if defined(__i386__) || defined(__x86_64__)
	while (!(inb(COM2 + UART_LSR) & UART_LSR_DR))
		;
	(void)inb(COM2);
#endif
	serial_puts("csrec: up\n");
}

NOIPA unsigned cs_deep(unsigned n)
{
	unsigned r;

	if (!n) {
		cs_bottom();
		return 0;
	}
	r = cs_deep(n - 1);
	sink = r;	/* no accumulator loop, no tail call */
	return r + 1;
}

unsigned kmain(unsigned magic, struct mb_info *info)
{
	unsigned n;

	(void)magic;
	serial_init();
	serial_puts("csrec: start\n");
	n = cmdline_uint(info, "deep", 0);
	if (n) {
		sink = cs_deep(n);
		guest_exit(0);
	}
	n = cmdline_uint(info, "fib", 25);
	serial_puts("csrec: fib ");
	put_dec(n);
	serial_puts(" = ");
	put_dec(cs_fib(n));
	serial_putc('\n');
	guest_exit(0);
}
