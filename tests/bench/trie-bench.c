// SPDX-License-Identifier: MIT
/*
 * trie-bench - what callstack_instr's folded-stack trie costs a call, on
 * one vCPU and on two vCPUs running the same code.
 *
 * Prints TSV rows for tests/bench/run-all (name value unit baseline_value
 * ratio runs):
 *   csi_trie_call_ns         one call's node found and counted, one thread
 *   csi_trie_call_2vcpu_ns   the same with two threads making the same
 *                            calls at once, each with its own counter as
 *                            each vCPU has, against one thread
 * Paths three calls deep over 6 x 5 x 3 functions: every node keeps its
 * children in its hints, as most of a Linux boot's do.  Each figure is the
 * median over ROUNDS interleaved rounds.  No QEMU: modules/callstack_instr
 * /stacks.c is linked in directly.
 */
#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "internal.h"

#define CALLS 3000000u		/* paths per thread and round, 3 calls each */
#define ROUNDS 9

/* callstack_instr.c's; the trie does not use them. */
const struct mh_api *csi_mh;
mh_module *csi_self;

static gpointer make_calls(gpointer opaque)
{
	struct csi_counts *c = csi_counts_new();

	(void)opaque;
	for (unsigned int r = 0; r < CALLS; r++) {
		uint32_t n = csi_node_child(c, 0, 0x1000 + r % 6);

		n = csi_node_child(c, n, 0x2000 + r % 5);
		csi_node_child(c, n, 0x3000 + r % 3);
	}
	return NULL;
}

/* ns per call of @threads threads making CALLS paths each at once. */
static double run(unsigned int threads)
{
	GThread *t[2];
	gint64 t0 = g_get_monotonic_time();

	for (unsigned int i = 0; i < threads; i++)
		t[i] = g_thread_new("vcpu", make_calls, NULL);
	for (unsigned int i = 0; i < threads; i++)
		g_thread_join(t[i]);
	return (g_get_monotonic_time() - t0) * 1000.0 / (3.0 * CALLS);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(void)
{
	double one[ROUNDS], two[ROUNDS];

	csi_max_depth = 1024;
	csi_stack_kind = CS_STACK_THREADED;
	csi_folded_on = true;
	if (csi_stacks_init())
		return 1;
	run(1);		/* the nodes made, the pages touched */
	for (unsigned int r = 0; r < ROUNDS; r++) {
		one[r] = run(1);
		two[r] = run(2);
	}
	printf("csi_trie_call_ns\t%.2f\tns\t-\t-\t%d\n", median(one, ROUNDS),
	       ROUNDS);
	printf("csi_trie_call_2vcpu_ns\t%.2f\tns\t%.2f\t%.3f\t%d\n",
	       median(two, ROUNDS), median(one, ROUNDS),
	       median(two, ROUNDS) / median(one, ROUNDS), ROUNDS);
	csi_stacks_exit();
	return 0;
}
