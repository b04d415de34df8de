// SPDX-License-Identifier: MIT
/*
 * registry-bench - what the symbol registry costs on the hot path.
 *
 * Prints TSV rows for tests/bench/run-all (name value unit baseline_value
 * ratio runs):
 *   import_call_ns      a call through an import's stable pointer, against
 *                       a plain indirect call to the same function
 *   import_call_overhead_ns  the difference (goal: <= 5 ns)
 *   ppp_run_ns          one handler run from a PPP point, against a plain
 *                       indirect call (goal: <= 5 ns)
 *   registry_lookup_ns  one api->import() resolution (init time only)
 * Each figure is the median over ROUNDS interleaved rounds of N calls.  No
 * QEMU: the registry is linked in directly, with stand-in modules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define N 20000000ul
#define ROUNDS 9
#define LOOKUPS 200000ul

/* The registry logs through log.c, which writes to QEMU's plugin output. */
void qemu_plugin_outs(const char *s)
{
	fputs(s, stderr);
}

/* Accounting (api.c) is off here: the registry publishes handlers as is. */
bool mh_api_accounting(void)
{
	return false;
}

void mh_api_acct_enter(struct mh_acct_frame *f)
{
	(void)f;
}

void mh_api_acct_leave(struct mh_acct_frame *f, struct mh_entry *e)
{
	(void)f;
	(void)e;
}

static uint64_t total;

static __attribute__((noinline)) uint64_t bench_add(uint64_t n)
{
	total += n;
	__asm__ volatile("" ::: "memory");
	return total;
}

static __attribute__((noinline)) void bench_handler(unsigned int vcpu, uint64_t n)
{
	total += vcpu + n;
	__asm__ volatile("" ::: "memory");
}

static const struct mh_export exports[] = {
	{ "bench_add", "u64(u64)", (void (*)(void))bench_add },
};

static void blob_add(GByteArray *b, const char *entry)
{
	g_byte_array_append(b, (const guint8 *)entry, strlen(entry) + 1);
}

static struct mh_module *fake_module(const char *name, bool provider)
{
	g_autoptr(GByteArray) blob = g_byte_array_new();
	g_autofree char *name_entry = g_strdup_printf("name=%s", name);
	struct mh_module *m = g_new0(struct mh_module, 1);
	g_autofree char *err = NULL;

	blob_add(blob, "abi=1.0");
	blob_add(blob, name_entry);
	blob_add(blob, "version=1");
	if (provider)
		blob_add(blob, "export=bench_add:u64(u64)");
	if (mh_meta_parse(blob->data, blob->len, &m->meta, &err)) {
		fprintf(stderr, "registry-bench: %s\n", err);
		exit(1);
	}
	m->reg_imports = g_ptr_array_new();
	m->reg_points = g_ptr_array_new();
	if (provider) {
		m->ops.exports = exports;
		m->ops.exports_end = exports + 1;
	}
	return m;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

typedef uint64_t (*add_fn)(uint64_t);
typedef void (*handler_fn)(unsigned int, uint64_t);

static double time_calls(add_fn volatile *fp)
{
	double t0 = now_ns();

	for (unsigned long i = 0; i < N; i++)
		(*fp)(1);
	return (now_ns() - t0) / N;
}

static double time_ppp(const struct mh_ppp_point *p)
{
	double t0 = now_ns();

	for (unsigned long i = 0; i < N; i++) {
		const struct mh_ppp_handlers *h = mh_ppp_handlers(p);

		for (uint32_t j = 0; j < h->n; j++)
			((handler_fn)h->fn[j])(0, i);
	}
	return (now_ns() - t0) / N;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

static void row(const char *name, double v, double base)
{
	if (base > 0)
		printf("%s\t%.2f\tns\t%.2f\t%.3f\t%d\n", name, v, base, v / base,
		       ROUNDS);
	else
		printf("%s\t%.2f\tns\t-\t-\t%d\n", name, v, ROUNDS);
}

int main(void)
{
	struct mh_module *prov = fake_module("prov", true);
	struct mh_module *cons = fake_module("cons", false);
	double direct[ROUNDS], stub[ROUNDS], plain[ROUNDS], ppp[ROUNDS];
	add_fn volatile direct_fp = bench_add, stub_fp;
	handler_fn volatile handler_fp = bench_handler;
	struct mh_ppp_point *point;
	g_autofree char *err = NULL;
	double t0;

	mh_log_open(NULL, &err);
	mh_registry_init();
	mh_registry_publish(prov);
	stub_fp = mh_registry_import(cons, "prov", "bench_add", "u64(u64)", &err);
	point = mh_registry_ppp_declare(prov, "tick", "v(u32,u64)", &err);
	if (!stub_fp || !point ||
	    mh_registry_ppp_register(cons, "prov", "tick", "v(u32,u64)",
				     (void (*)(void))bench_handler, &err)) {
		fprintf(stderr, "registry-bench: %s\n", err);
		return 1;
	}
	for (int r = 0; r < ROUNDS; r++) {
		direct[r] = time_calls(&direct_fp);
		stub[r] = time_calls(&stub_fp);
		t0 = now_ns();
		for (unsigned long i = 0; i < N; i++)
			handler_fp(0, i);
		plain[r] = (now_ns() - t0) / N;
		ppp[r] = time_ppp(point);
	}
	row("import_call_ns", median(stub, ROUNDS), median(direct, ROUNDS));
	row("import_call_overhead_ns",
	    median(stub, ROUNDS) - median(direct, ROUNDS), 0);
	row("ppp_run_ns", median(ppp, ROUNDS), median(plain, ROUNDS));

	t0 = now_ns();
	for (unsigned long i = 0; i < LOOKUPS; i++) {
		if (!mh_registry_import(cons, "prov", "bench_add", "u64(u64)", &err))
			return 1;
		/* keep the edge list from growing: drop this edge again */
		mh_registry_release(cons);
	}
	row("registry_lookup_ns", (now_ns() - t0) / LOOKUPS, 0);
	return total == 42;	/* keep total live */
}
