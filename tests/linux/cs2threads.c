// SPDX-License-Identifier: MIT
/*
 * cs2threads: two threads with different, known call chains running at
 * once, for tests/linux/threaded.t.  Thread A loops a1 -> a2 -> a3, thread
 * B b1 -> b2 -> b3 -> b4; both start together (a barrier) and run on the
 * guest's two vCPUs.  callstack_instr's folded stacks, with this file's
 * symbols, must show each chain alone with stack_type=threaded; with
 * stack_type=asid, whose one stack per address space both threads share,
 * they mix.  It asks the host by hypercall to load callstack_instr first
 * (guest_control=on), so that the boot before runs uninstrumented, and
 * gives the load a generous time to be applied (hypercalls are one-way),
 * as tests/linux/hcuser.c does.
 *
 * Usage: cs2threads [ITERATIONS]   (default 10000 per thread)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <modhost/guest.h>

#define NOINLINE __attribute__((noinline, noclone))

volatile unsigned long sink;
static unsigned long iterations = 10000;
static pthread_barrier_t start;

/* Each does work after its call, so that no call becomes a jump. */
NOINLINE void a3(unsigned long i) { sink += i; }
NOINLINE void a2(unsigned long i) { a3(i); sink ^= i; }
NOINLINE void a1(unsigned long i) { a2(i); sink -= 1; }
NOINLINE void b4(unsigned long i) { sink += i * 3; }
NOINLINE void b3(unsigned long i) { b4(i); sink ^= 5; }
NOINLINE void b2(unsigned long i) { b3(i); sink += 7; }
NOINLINE void b1(unsigned long i) { b2(i); sink -= 2; }

NOINLINE void *worker_a(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start);
	for (unsigned long i = 0; i < iterations; i++)
		a1(i);
	return NULL;
}

NOINLINE void *worker_b(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start);
	for (unsigned long i = 0; i < iterations; i++)
		b1(i);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t a, b;

	if (argc > 1)
		iterations = strtoul(argv[1], NULL, 0);
	mh_guest_load("callstack_instr");
	sleep(2);
	pthread_barrier_init(&start, NULL, 2);
	pthread_create(&a, NULL, worker_a, NULL);
	pthread_create(&b, NULL, worker_b, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("cs2threads: done %lu\n", iterations);
	return 0;
}
