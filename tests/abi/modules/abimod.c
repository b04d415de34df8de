// SPDX-License-Identifier: MIT
/*
 * abimod - the ABI conformance suite's module, built in variants by
 * tests/abi/Makefile, against the headers of every minor of the ABI
 * (abi/headers/MAJOR.MINOR/) and the headers under test:
 *
 *   ABIMOD_VARIANT_ID   what the marker and the version string say
 *   ABIMOD_MAJOR/MINOR  claim another ABI version in the metadata and ops
 *   ABIMOD_OPS          more designated initializers for mh_module_ops,
 *                       after the ones MH_MODULE() sets (they win)
 *   ABIMOD_PAD          bytes of NUL padding added to the metadata section,
 *                       room that crafted metadata can fill in place
 *
 * It uses only what ABI 1.0 has, so it builds against every 1.x header.
 * A constructor appends "abimod VARIANT" to $MODHOST_TEST_MARKER: a refused
 * variant must never write it.  It counts executed blocks into the file
 * named by its heartbeat parameter, so a test sees it run.
 */
#include <errno.h>
#include <stdlib.h>

#include <modhost/module.h>

#include "../../modules/testmod.h"

#ifdef ABIMOD_MAJOR
#undef MODHOST_ABI_MAJOR
#define MODHOST_ABI_MAJOR ABIMOD_MAJOR
#endif
#ifdef ABIMOD_MINOR
#undef MODHOST_ABI_MINOR
#define MODHOST_ABI_MINOR ABIMOD_MINOR
#endif
#ifndef ABIMOD_VARIANT_ID
#define ABIMOD_VARIANT_ID plain
#endif
#define ABIMOD_VARIANT MH_STRINGIFY(ABIMOD_VARIANT_ID)
#ifndef ABIMOD_OPS
#define ABIMOD_OPS
#endif

#ifdef ABIMOD_PAD
/* NULs between entries are padding: the section stays valid. */
__asm__(".pushsection " MH_SECTION ",\"a\"\n"
	".fill " MH_STRINGIFY(ABIMOD_PAD) ",1,0\n"
	".popsection");
#endif

MH_PARAM_STR(heartbeat, "", "file whose first 8 bytes count blocks");

static uint64_t *beat;

__attribute__((constructor)) static void abimod_loaded(void)
{
	testmod_mark("abimod " ABIMOD_VARIANT "\n");
}

static void on_block(unsigned int vcpu_index, void *udata)
{
	(void)vcpu_index;
	(void)udata;
	testmod_beat(beat);
}

static const struct mh_api *mh;

static void translate(mh_tb *tb, void *opaque)
{
	(void)opaque;
	mh->tb_exec_cb(tb, on_block, MH_CB_NO_REGS, NULL);
}

static int abimod_init(mh_module *self, const struct mh_api *api)
{
	const char *hb = api->param_str(self, "heartbeat");

	mh = api;
	if (hb && *hb) {
		int ret = testmod_beat_map(hb, &beat);

		if (ret)
			return ret;
	}
	api->log(self, MH_LOG_INFO, "up: built for %d.%d, host table %u.%u "
		 "of %u bytes", MODHOST_ABI_MAJOR, MODHOST_ABI_MINOR,
		 api->abi_major, api->abi_minor, api->size);
	return api->set_translate(self, translate, NULL);
}

static void abimod_exit(mh_module *self)
{
	(void)self;
	testmod_beat_unmap(&beat);
}

MH_MODULE("abimod", ABIMOD_VARIANT, "MIT", "ABI conformance test module",
	  .init = abimod_init,
	  .exit = abimod_exit ABIMOD_OPS);
