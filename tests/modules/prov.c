// SPDX-License-Identifier: MIT
/*
 * prov - the registry tests' provider.  Exports prov_add(), declares the
 * PPP point on_block and runs its handlers on every executed block.  It
 * counts the calls it receives and the handler calls it makes, and hands
 * both to its next version, so a test can check that every call reached a
 * live provider and no stale handler ran.
 *
 * Variants (tests/tests.mk): PROV_VERSION, PROV_DROP_EXPORT (no prov_add),
 * PROV_CHANGE_SIG (prov_add takes u32), PROV_PPP_SIG (on_block changes).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>

#include "blob.h"

#ifndef PROV_VERSION
#define PROV_VERSION "1"
#endif

typedef void (*on_block_t)(unsigned int vcpu_index, uint64_t n);

static const struct mh_api *mh;
static struct mh_ppp_point *on_block;
/* Atomic adds: at -smp 4 (tests/soak/soak.sh) vCPU threads run blocks
 * at once, and a plain ++ would lose counts. */
static uint64_t counts[2];	/* received, handler calls */

/* unused in the PROV_DROP_EXPORT variant */
#ifdef PROV_CHANGE_SIG
static __attribute__((unused)) uint64_t prov_add(uint32_t n)
#else
static __attribute__((unused)) uint64_t prov_add(uint64_t n)
#endif
{
	return __atomic_add_fetch(&counts[0], n, __ATOMIC_RELAXED);
}

#ifndef PROV_DROP_EXPORT
#ifdef PROV_CHANGE_SIG
MH_EXPORT(prov_add, "u64(u32)");
#else
MH_EXPORT(prov_add, "u64(u64)");
#endif
#endif

static void on_exec(unsigned int vcpu_index, void *udata)
{
	const struct mh_ppp_handlers *h = mh_ppp_handlers(on_block);
	uint64_t n = __atomic_fetch_add(&counts[1], h->n, __ATOMIC_RELAXED);

	(void)udata;
	for (uint32_t i = 0; i < h->n; i++)
		((on_block_t)h->fn[i])(vcpu_index, n + i);
}

static void translate(mh_tb *tb, void *opaque)
{
	(void)opaque;
	mh->tb_exec_cb(tb, on_exec, MH_CB_NO_REGS, NULL);
}

static int prov_init(mh_module *self, const struct mh_api *api)
{
	mh = api;
	memset(counts, 0, sizeof(counts));
#ifdef PROV_PPP_SIG
	on_block = api->ppp_declare(self, "on_block", "v(u32)");
#else
	on_block = api->ppp_declare(self, "on_block", "v(u32,u64)");
#endif
	if (!on_block)
		return -EINVAL;
	return api->set_translate(self, translate, NULL);
}

static void prov_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO, "exit %s received=%" PRIu64
		" handler_calls=%" PRIu64, PROV_VERSION, counts[0], counts[1]);
}

static int prov_save(mh_module *self, void **data, size_t *len)
{
	(void)self;
	return blob_save(counts, sizeof(counts), data, len);
}

static int prov_restore(mh_module *self, const void *data, size_t len,
			const char *old_version)
{
	(void)self;
	(void)old_version;
	return blob_restore(counts, sizeof(counts), data, len);
}

MH_MODULE("prov", PROV_VERSION, "MIT", "test module: registry provider",
	  .init = prov_init,
	  .exit = prov_exit,
	  .save_state = prov_save,
	  .restore_state = prov_restore);
