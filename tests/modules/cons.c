// SPDX-License-Identifier: MIT
/*
 * cons - the registry tests' consumer.  Imports prov.prov_add (statically,
 * and once more with api->import to compare the pointers), calls it from
 * every executed block and handles prov's on_block point.  It counts both
 * and hands the counts to its next version.
 *
 * Variants (tests/tests.mk): CONS_VERSION, CONS_BAD_SIG (imports prov_add
 * with another signature), CONS_MISSING (imports from a module that is
 * not there), CONS_PPP_ONLY (no callback of its own: only its on_block
 * handler runs, from prov's callback).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>

#include "blob.h"
#include "testmod.h"

#ifndef CONS_VERSION
#define CONS_VERSION "1"
#endif

static const struct mh_api *mh;

/* Appends to $MODHOST_TEST_MARKER: proves whether any code of it ran. */
__attribute__((constructor)) static void cons_loaded(void)
{
	testmod_mark("cons " CONS_VERSION "\n");
}
/* Atomic adds, as in prov.c: vCPU threads may run blocks at once. */
static uint64_t counts[2];	/* calls made, handler runs */

#if defined(CONS_BAD_SIG)
static uint64_t (*prov_add)(uint32_t);
MH_IMPORT("prov", prov_add, "u64(u32)");
#elif defined(CONS_MISSING)
static uint64_t (*prov_add)(uint64_t);
MH_IMPORT("nosuch", prov_add, "u64(u64)");
#else
static uint64_t (*prov_add)(uint64_t);
MH_IMPORT("prov", prov_add, "u64(u64)");
#endif

static void on_block(unsigned int vcpu_index, uint64_t n)
{
	(void)vcpu_index;
	(void)n;
	__atomic_add_fetch(&counts[1], 1, __ATOMIC_RELAXED);
}

static void on_exec(unsigned int vcpu_index, void *udata)
{
	(void)vcpu_index;
	(void)udata;
	__atomic_add_fetch(&counts[0], 1, __ATOMIC_RELAXED);
	prov_add(1);
}

static void translate(mh_tb *tb, void *opaque)
{
	(void)opaque;
	mh->tb_exec_cb(tb, on_exec, MH_CB_NO_REGS, NULL);
}

static int cons_init(mh_module *self, const struct mh_api *api)
{
	void *again = api->import(self, "prov", "prov_add", "u64(u64)");
	int ret;

	mh = api;
	memset(counts, 0, sizeof(counts));
	ret = api->ppp_register(self, "prov", "on_block", "v(u32,u64)",
				(void (*)(void))on_block);
	if (ret)
		return ret;
	api->log(self, MH_LOG_INFO, "init %s ptr=%p again=%p", CONS_VERSION,
		 (void *)prov_add, again);
#ifdef CONS_PPP_ONLY
	(void)translate;
	return 0;
#else
	return api->set_translate(self, translate, NULL);
#endif
}

static void cons_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO, "exit %s calls=%" PRIu64 " handled=%" PRIu64,
		CONS_VERSION, counts[0], counts[1]);
}

static int cons_save(mh_module *self, void **data, size_t *len)
{
	(void)self;
	return blob_save(counts, sizeof(counts), data, len);
}

static int cons_restore(mh_module *self, const void *data, size_t len,
			const char *old_version)
{
	(void)self;
	(void)old_version;
	return blob_restore(counts, sizeof(counts), data, len);
}

MH_MODULE("cons", CONS_VERSION, "MIT", "test module: registry consumer",
	  .init = cons_init,
	  .exit = cons_exit,
	  .save_state = cons_save,
	  .restore_state = cons_restore);
