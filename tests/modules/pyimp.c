// SPDX-License-Identifier: MIT
/*
 * pyimp: a C module importing a Python script's export (python-registry.t).
 * Its init calls pyexp.twice(21) through the import and logs the result;
 * with -DPYIMP_BAD_SIG it imports twice with a signature that does not
 * match the script's, and must be refused before any of its code runs.
 */
#include <inttypes.h>

#include <modhost/module.h>

#ifndef PYIMP_BAD_SIG
#define PYIMP_VERSION "1"
static uint64_t (*twice)(uint64_t);
MH_IMPORT("pyexp", twice, "u64(u64)");
#else
#define PYIMP_VERSION "badsig"
static uint32_t (*twice)(uint32_t);
MH_IMPORT("pyexp", twice, "u32(u32)");
#endif

static int pyimp_init(mh_module *self, const struct mh_api *api)
{
	api->log(self, MH_LOG_INFO, "twice(21)=%" PRIu64, (uint64_t)twice(21));
	return 0;
}

MH_MODULE("pyimp", PYIMP_VERSION, "MIT",
	  "test module: imports a Python script's export", .init = pyimp_init);
