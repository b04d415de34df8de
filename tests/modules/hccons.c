// SPDX-License-Identifier: MIT
/*
 * hccons - a PANDA-style hypercaller consumer, for
 * tests/integration/hypercall.t: registers magic= with register_hypercall()
 * and checks each call's arguments with hypercall_get_arg() against
 * tests/guest/hcall.c's pattern (the low 32 bits, the same for both
 * widths).  Logs "exit calls=N bad=B" at exit; with crash_exit=on, exit
 * then crashes, so the host keeps this copy mapped (tainted) after the
 * unload, and hypercaller must still never call it.
 */
#include <inttypes.h>

#include <modhost/hypercaller.h>
#include <modhost/module.h>

#include "hcall-pattern.h"

MH_PARAM_UINT(magic, 0x12345600, "the magic to register");
MH_PARAM_BOOL(crash_exit, false, "exit crashes after its log line");

static register_hypercall_t register_hypercall;
static hypercall_get_arg_t hypercall_get_arg;
static hypercall_get_magic_t hypercall_get_magic;
MH_IMPORT("hypercaller", register_hypercall, HYPERCALLER_REGISTER_SIG);
MH_IMPORT("hypercaller", hypercall_get_arg, HYPERCALLER_GET_ARG_SIG);
MH_IMPORT("hypercaller", hypercall_get_magic, HYPERCALLER_GET_MAGIC_SIG);

static const struct mh_api *mh;
static uint32_t want_magic;
static bool crash;
static uint64_t calls, bad;

static void my_hypercall(CPUState *cpu)
{
	uint32_t seq = (uint32_t)hypercall_get_arg(cpu, 0);

	if (hypercall_get_magic(cpu) != want_magic || seq != calls)
		bad++;
	for (uint32_t k = 1; k < 6; k++)
		if ((uint32_t)hypercall_get_arg(cpu, k) !=
		    (uint32_t)hc_pattern(32, k, seq))
			bad++;
	calls++;
}

static int hccons_init(mh_module *self, const struct mh_api *api)
{
	mh = api;
	want_magic = (uint32_t)api->param_uint(self, "magic");
	crash = api->param_bool(self, "crash_exit");
	register_hypercall(want_magic, my_hypercall);
	return 0;
}

static void hccons_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO, "exit calls=%" PRIu64 " bad=%" PRIu64, calls,
		bad);
	if (crash)
		*(volatile int *)NULL = 1;
}

MH_MODULE("hccons", "1", "MIT", "test module: a hypercaller consumer",
	  .init = hccons_init, .exit = hccons_exit);
