/*
 * inline-guest - an always_inline function with a parameter that lives in
 * a register across a loop, built at -O2 by tests/stpi/inline-vars.t: dwarfp must report
 * the parameter of the inlined instance (a DW_TAG_inlined_subroutine's
 * formal_parameter, named by its abstract origin) at a pc inside it.
 * Prints "inline-guest: <result>" and exits through isa-debug-exit.
 */
#include "../guest/libguest.h"

volatile unsigned g_seed = 37;
volatile unsigned g_sink;

static inline __attribute__((always_inline)) unsigned spread(unsigned v,
								unsigned n)
{
	unsigned h = 0, i;

	for (i = 0; i < n; i++) {
		g_sink = v + i;
		h = h * 31 + g_sink;
	}
	return h;
}

__attribute__((noinline)) unsigned outer(unsigned x)
{
	unsigned y = x + 5;

	return spread(y, x & 7) + x;
}

unsigned kmain(unsigned magic, struct mb_info *info)
{
	(void)magic;
	(void)info;
	serial_init();
	serial_puts("inline-guest: ");
	put_dec(outer(g_seed));
	serial_puts("\n");
	return 0;
}
