// SPDX-License-Identifier: MIT
/*
 * counter - the test suite's module, built in several variants from this
 * one file (see tests/tests.mk):
 *
 *   COUNTER_VERSION      version string (default "1")
 *   COUNTER_INIT_FAIL    init returns -EINVAL
 *   COUNTER_INIT_CRASH   init dereferences NULL
 *   COUNTER_INIT_ABORT   init calls abort()
 *   COUNTER_INIT_EXIT    init calls exit(3)
 *   COUNTER_INIT_HANG    init never returns (a spin in its own code)
 *   COUNTER_INIT_MALLOC_HANG  init never returns, looping through malloc(),
 *                        snprintf() and free(): most of its time in libc
 *   COUNTER_INIT_CALLBACK_HANG  init never returns: it spins in a qsort()
 *                        comparator, with libc's frame under its own
 *   COUNTER_ABI_MAJOR/MINOR  claim another ABI version
 *   COUNTER_TARGETS      serve only these QEMU targets ("x86_64,i386")
 *
 * It counts executed blocks with a real callback (not inline), so that a
 * callback left behind after unload would show.  With heartbeat=FILE the
 * first 8 bytes of FILE count too, visible to the test from outside.  A
 * constructor appends to $MODHOST_TEST_MARKER, to prove whether any of the
 * module's code ran.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>

#include "testmod.h"

#ifdef COUNTER_ABI_MAJOR
#undef MODHOST_ABI_MAJOR
#define MODHOST_ABI_MAJOR COUNTER_ABI_MAJOR
#endif
#ifdef COUNTER_ABI_MINOR
#undef MODHOST_ABI_MINOR
#define MODHOST_ABI_MINOR COUNTER_ABI_MINOR
#endif
#ifndef COUNTER_VERSION
#define COUNTER_VERSION "1"
#endif

MH_PARAM_STR(heartbeat, "", "file whose first 8 bytes count blocks");
MH_PARAM_UINT(start, 0, "initial count");
MH_PARAM_LIST(tag, "logged at init, one message a value");

static const struct mh_api *mh;
static uint64_t count;
static uint64_t *beat;

__attribute__((constructor)) static void counter_loaded(void)
{
	testmod_mark("counter " COUNTER_VERSION "\n");
}

static void on_block(unsigned int vcpu_index, void *udata)
{
	(void)vcpu_index;
	(void)udata;
	__atomic_add_fetch(&count, 1, __ATOMIC_RELAXED);
	testmod_beat(beat);
}

static void translate(mh_tb *tb, void *opaque)
{
	(void)opaque;
	mh->tb_exec_cb(tb, on_block, MH_CB_NO_REGS, NULL);
}

#ifdef COUNTER_INIT_CALLBACK_HANG
static int spin_compare(const void *a, const void *b)
{
	for (volatile uint64_t spin = 0;; spin++)
		;
	return a < b;
}
#endif

static int counter_init(mh_module *self, const struct mh_api *api)
{
	const char *hb = api->param_str(self, "heartbeat");

	mh = api;
	count = api->param_uint(self, "start");
#ifdef COUNTER_INIT_FAIL
	return -EINVAL;
#endif
#ifdef COUNTER_INIT_CRASH
	*(volatile int *)(uintptr_t)api->param_uint(self, "start") = 1;
#endif
#ifdef COUNTER_INIT_ABORT
	abort();
#endif
#ifdef COUNTER_INIT_EXIT
	exit(3);
#endif
#ifdef COUNTER_INIT_HANG
	for (volatile uint64_t spin = 0;; spin++)
		;
#endif
#ifdef COUNTER_INIT_CALLBACK_HANG
	{
		int v[4] = { 4, 3, 2, 1 };

		qsort(v, 4, sizeof(v[0]), spin_compare);
	}
#endif
#ifdef COUNTER_INIT_MALLOC_HANG
	for (uint64_t i = 0;; i++) {
		char *p = malloc(32 + i % 4096);

		if (p)
			snprintf(p, 32, "%" PRIu64 " %s", i, hb ? hb : "");
		free(p);
	}
#endif
	if (hb && *hb) {
		int ret = testmod_beat_map(hb, &beat);

		if (ret)
			return ret;
	}
	for (const char *t = api->param_str(self, "tag"); t && *t;) {
		size_t n = strcspn(t, "\n");

		api->log(self, MH_LOG_INFO, "tag %.*s", (int)n, t);
		t += n + (t[n] == '\n');
	}
	api->log(self, MH_LOG_INFO, "init version %s", COUNTER_VERSION);
	return api->set_translate(self, translate, NULL);
}

static void counter_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO, "exit version %s count=%" PRIu64,
		COUNTER_VERSION, count);
	testmod_beat_unmap(&beat);
}

static int counter_save(mh_module *self, void **data, size_t *len)
{
	uint64_t *n = malloc(sizeof(*n));

	if (!n)
		return -ENOMEM;
	*n = count;
	*data = n;
	*len = sizeof(*n);
	mh->log(self, MH_LOG_INFO, "save count=%" PRIu64, count);
	return 0;
}

static int counter_restore(mh_module *self, const void *data, size_t len,
			   const char *old_version)
{
	uint64_t n;

	if (len != sizeof(n))
		return -EINVAL;
	memcpy(&n, data, len);
	count = n;
	mh->log(self, MH_LOG_INFO, "restore count=%" PRIu64 " from %s", n,
		old_version);
	return 0;
}

#ifdef COUNTER_TARGETS
MH_INFO("targets", COUNTER_TARGETS);
#endif

MH_MODULE("counter", COUNTER_VERSION, "MIT", "test module: counts blocks",
	  .init = counter_init,
	  .exit = counter_exit,
	  .save_state = counter_save,
	  .restore_state = counter_restore);
