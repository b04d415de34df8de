/*
 * bench: a CPU-bound benchmark guest.
 *
 * Runs iters=N rounds (default BENCH_ITERS) of a small integer workload
 * mixing hashing, recursive Fibonacci and a sieve, prints the final hash
 * as "bench: result 0xHEX" and exits with status 0.  Lots of calls and
 * data-dependent branches make for many short translation blocks.
 */
#include "libguest.h"

/* About two seconds under plain TCG (qemu 10.0) on the development box. */
#define BENCH_ITERS	24000000

#define SIEVE_MAX	2048

static unsigned char composite[SIEVE_MAX];

/* FNV-1a style step, plus a branch on the hash so both arms get used. */
static __attribute__((noinline)) unsigned mix(unsigned h, unsigned v)
{
	h = (h ^ v) * 0x01000193;
	if (h & 0x10)
		h ^= h >> 15;
	else
		h += h << 3;
	return h;
}

static __attribute__((noinline)) unsigned fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/* Number of primes below n (n <= SIEVE_MAX). */
static __attribute__((noinline)) unsigned sieve(unsigned n)
{
	unsigned i, j, count = 0;

	memset(composite, 0, n);
	for (i = 2; i < n; i++) {
		if (composite[i])
			continue;
		count++;
		for (j = i * i; j < n; j += i)
			composite[j] = 1;
	}
	return count;
}

unsigned kmain(unsigned magic, struct mb_info *info)
{
	unsigned iters, i, h = 0x811c9dc5;

	(void)magic;
	serial_init();
	iters = cmdline_uint(info, "iters", BENCH_ITERS);

	for (i = 0; i < iters; i++) {
		h = mix(h, i);
		if (!(i & 255))
			h = mix(h, fib(10 + (h & 7)));
		if (!(i & 4095))
			h = mix(h, sieve(SIEVE_MAX / 2 + (h & (SIEVE_MAX / 2 - 1))));
	}

	serial_puts("bench: result 0x");
	put_hex(h);
	serial_putc('\n');
	guest_exit(0);
}
