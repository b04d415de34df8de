/*
 * sguest - the stpi/dwarfp test guest: functions with parameters, locals,
 * variables in and after lexical blocks, globals, a loop, inlining at -O2.
 * Built at -O0 and -O2, for i386 and x86_64 (tests/stpi.mk).  Prints
 * "sguest: start", a checksum, and exits through isa-debug-exit with 0.
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

/*
 * Round 1 runs in a second address space, for dwarfp's asid= filter: cr3
 * holds g_alt_root instead of the boot value.  On x86_64 g_alt_root is a
 * copy of the boot page tables' root, so the mappings stay the same; on
 * i386 paging is off and cr3 only tags the round (loaded but unused).
 */
static unsigned long g_alt_root[4096 / sizeof(unsigned long)]
	__attribute__((aligned(4096)));

#if defined(__i386__) || defined(__x86_64__)
static unsigned long cr3_read(void)
{
	unsigned long v;

	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static void cr3_write(unsigned long v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}
#else
/* The Arm builds (tests/stpi.mk) run with the MMU off: one address space. */
static unsigned long cr3_read(void)
{
	return 0;
}

static void cr3_write(unsigned long v)
{
	(void)v;
}
#endif

/*
 * rounds=N on the command line (default 3): a long run for the reload
 * tests, which wait for the "tick" lines printed every 1024 rounds.
 */
unsigned kmain(unsigned magic, struct mb_info *info)
{
	struct point pt = { 3, 4 };
	unsigned total = 0, rounds = cmdline_uint(info, "rounds", 3);
	unsigned long boot_root = cr3_read();
	unsigned round;

	(void)magic;
	serial_init();
	serial_puts("sguest: start\n");
#ifdef __x86_64__
	memcpy(g_alt_root, (const void *)boot_root, sizeof(g_alt_root));
#endif
	for (round = 0; round < rounds; round++) {
		if (round == 1)
			cr3_write((unsigned long)g_alt_root);
		total += add3(round, 2, 3);
		total += scan(g_table, 8);
		total += blocks(round + 1);
		total += area(&pt, round + 1);
		if (round == 1)
			cr3_write(boot_root);
		if (round % 1024 == 1023) {
			serial_puts("sguest: tick ");
			put_dec(round / 1024 + 1);
			serial_puts("\n");
		}
	}
	serial_puts("sguest: total ");
	put_hex(total);
	serial_puts("\n");
	return 0;
}
