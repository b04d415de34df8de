/*
 * tight: after saying so, loops forever in one block that jumps back to
 * itself: no call, no return, no interrupt.  The host's doorbell must
 * still be answered from such a loop (tests/integration/doorbell.t).
 */
#include "libguest.h"

unsigned kmain(unsigned magic, struct mb_info *info)
{
	unsigned long x = 0;

	(void)magic;
	(void)info;
	serial_init();
	serial_puts("tight: start\n");
	serial_puts("tight: looping\n");
	for (;;)
#if defined(__i386__) || defined(__x86_64__)
		__asm__ volatile("1: addl $1, %0\n\tjmp 1b" : "+r"(x));
#else
		__asm__ volatile("1: add %0, %0, #1\n\tb 1b" : "+r"(x));
#endif
}
