/*
 * sguest - the stpi/dwarfp test guest: functions with parameters, locals,
 * variables in and after lexical blocks, globals, a loop, inlining at -O2.
 * Built at -O0 and -O2, for i386 (tests/stpi.mk).  Prints "sguest: start",
 * a checksum, and exits through isa-debug-exit with status 0.
 */
#include "../guest/libguest.h"

int g_counter = 5;
static unsigned g_table[8] = { 3, 1, 4, 1, 5, 9, 2, 6 };
volatile unsigned g_sink;

struct point {
	int x;
	int y;
};

__attribute__((noinline)) int add3(int a, int b, int c)
{
	int sum = a + b;

	sum += c;
	return sum;
}

static inline unsigned mix(unsigned h, unsigned v)
{
	h ^= v;
	h *= 16777619u;
	return h;
}

__attribute__((noinline)) unsigned scan(const unsigned *t, int n)
{
	unsigned h = 2166136261u;
	int i;

	for (i = 0; i < n; i++)
		h = mix(h, t[i]);
	return h;
}

__attribute__((noinline)) int blocks(int n)
{
	int before = n * 3;

	{
		int inner = before + 7;
		volatile int inner2 = inner * 2;

		g_sink = inner2;
		before += inner2;
	}
	int after = before - 1;

	g_counter += after;
	return after;
}

__attribute__((noinline)) int area(struct point *p, int scale)
{
	int w = p->x * scale;
	int h = p->y * scale;

	return w * h;
}

unsigned kmain(unsigned magic, struct mb_info *info)
{
	struct point pt = { 3, 4 };
	unsigned total = 0;
	int round;

	(void)magic;
	(void)info;
	serial_init();
	serial_puts("sguest: start\n");
	for (round = 0; round < 3; round++) {
		total += add3(round, 2, 3);
		total += scan(g_table, 8);
		total += blocks(round + 1);
		total += area(&pt, round + 1);
	}
	serial_puts("sguest: total ");
	put_hex(total);
	serial_puts("\n");
	return 0;
}
