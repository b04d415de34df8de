// SPDX-License-Identifier: MIT
/*
 * leaky - leaks on purpose, for `make check-asan` (tests/soak/check-asan):
 * each init allocates bytes= bytes and drops the only pointer to them.
 * The check runs it first and must find the leak, which shows that the
 * leak check inside QEMU really runs and can fail.
 */
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>

MH_PARAM_UINT(bytes, 4096, "bytes to leak at each init");

/* Volatile: the allocation and the lost pointer must really happen. */
static void *volatile lost;

static int leaky_init(mh_module *self, const struct mh_api *api)
{
	size_t n = (size_t)api->param_uint(self, "bytes");

	lost = malloc(n);
	if (lost)
		memset(lost, 0x5a, n);
	lost = NULL;
	return 0;
}

MH_MODULE("leaky", "1", "MIT", "test module: leaks bytes= at each init",
	  .init = leaky_init);
