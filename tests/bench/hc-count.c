// SPDX-License-Identifier: MIT
/*
 * hc_count: the hypercall benchmark's modhost module (tests/bench/run-all):
 * routes magic 0x12345600 and does what hc-bare does with the call: sums
 * the six arguments and counts.  hc_sum does the same as an export, for a
 * symbol route (route=0x12345601:hc_count.hc_sum: libffi, the signature).
 * Logs "calls=N" at exit.
 */
#include <inttypes.h>

#include <modhost/module.h>

static const struct mh_api *mh;
static uint64_t calls, sink;

static uint64_t on_call(mh_cpu *cpu, const struct mh_hypercall *c, void *opaque)
{
	(void)cpu;
	(void)opaque;
	for (int i = 0; i < 6; i++)
		sink += c->args[i];
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	return 0;
}

static uint64_t hc_sum(uint64_t a, uint64_t b, uint64_t c, uint64_t d,
		       uint64_t e, uint64_t f)
{
	sink += a + b + c + d + e + f;
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	return 0;
}
MH_EXPORT(hc_sum, "u64(u64,u64,u64,u64,u64,u64)");

static int hc_count_init(mh_module *self, const struct mh_api *api)
{
	mh = api;
	return api->hypercall_register(self, 0x12345600u, on_call, NULL);
}

static void hc_count_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO, "calls=%" PRIu64, calls);
}

MH_MODULE("hc_count", "1", "MIT", "benchmark: counts hypercalls",
	  .init = hc_count_init, .exit = hc_count_exit);
