// SPDX-License-Identifier: MIT
/*
 * hcdup - tries every magic a route may not have, for
 * tests/integration/hypercall.t: another module's magic (magic=), its own
 * twice, host-reserved ones and real cpuid leaves.  Logs each result.
 */
#include <inttypes.h>

#include <modhost/module.h>

MH_PARAM_UINT(magic, 0x12345600, "a magic another module holds");

static uint64_t on_call(mh_cpu *cpu, const struct mh_hypercall *c, void *opaque)
{
	(void)cpu;
	(void)c;
	(void)opaque;
	return 0;
}

static int hcdup_init(mh_module *self, const struct mh_api *api)
{
	static const uint32_t bad[] = {
		0x4D480000, 0x4D480001, 0x4D480003, 0x4D4800FF,	/* reserved */
		0x00000000, 0x00000001, 0x0000FFFF, 0x40000000,	/* leaves */
		0x4000FFFF, 0x80000001, 0x8000FFFF, 0xC0000001,
	};
	uint32_t other = (uint32_t)api->param_uint(self, "magic");
	int own, own2, dup, unreg_other;

	dup = api->hypercall_register(self, other, on_call, NULL);
	own = api->hypercall_register(self, 0x4D480100, on_call, NULL);
	own2 = api->hypercall_register(self, 0x4D480100, on_call, NULL);
	unreg_other = api->hypercall_unregister(self, other);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = api->hypercall_register(self, bad[i], on_call, NULL);

		api->log(self, MH_LOG_INFO, "refuse 0x%08" PRIx32 " -> %d", bad[i], r);
	}
	api->log(self, MH_LOG_INFO, "dup=%d own=%d own_again=%d unregister_other=%d",
		 dup, own, own2, unreg_other);
	return 0;
}

MH_MODULE("hcdup", "1", "MIT", "test module: refused hypercall magics",
	  .init = hcdup_init);
