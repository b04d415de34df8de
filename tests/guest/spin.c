/*
 * spin: a guest that runs until stopped.
 *
 * Command line: tick=N (default 1000000) loop iterations per "tick K"
 * line; ticks=M stops after M ticks and exits with status 0, otherwise
 * the guest spins forever.
 */
#include "libguest.h"

/*
 * Kept out of line and with a data-dependent branch, so that each loop
 * iteration runs several small translation blocks (loop head, call,
 * either arm of the branch, return): lots of block executions for a
 * per-block counting plugin.
 */
static __attribute__((noinline)) unsigned step(unsigned x)
{
	if (x & 1)
		return x * 3 + 1;
	return (x >> 1) ^ 0x9e3779b9;
}

unsigned kmain(unsigned magic, struct mb_info *info)
{
	unsigned tick, ticks, k = 0, n = 0;
	unsigned x = 1;

	(void)magic;
	serial_init();
	tick = cmdline_uint(info, "tick", 1000000);
	ticks = cmdline_uint(info, "ticks", 0);	/* 0: run forever */
	if (!tick)
		tick = 1;

	serial_puts("spin: start\n");
	for (;;) {
		x = step(x + n);
		/* x is otherwise dead when ticks=0: keep step() calls alive. */
		__asm__ volatile("" : "+r"(x));
		if (++n < tick)
			continue;
		n = 0;
		serial_puts("tick ");
		put_dec(++k);
		serial_putc('\n');
		if (ticks && k == ticks)
			break;
	}
	return 0;
}
