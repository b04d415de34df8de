// SPDX-License-Identifier: MIT
/*
 * hcrec - records hypercalls for tests/integration/hypercall*.t.
 *
 * Routes magic= (default 0x12345600) and checks every call against what
 * tests/guest/hcall.c sends: args[0] is the call's sequence number, which
 * must be exactly one more than the last one seen (none lost, none
 * doubled, across reloads: the count and the next expected number are
 * handed over), and args[1..5] follow hc_pattern() for the call's width.
 * width=32|64 also checks the width the host decided.  At exit it logs
 * "exit calls=N bad=B next=S ..." and the first difference, if any.
 * HCREC_VERSION names the build (tests.mk makes "1" and "2").
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>

#include "hcall-pattern.h"

#ifndef HCREC_VERSION
#define HCREC_VERSION "1"
#endif

MH_PARAM_UINT(magic, 0x12345600, "the magic to route");
MH_PARAM_UINT(width, 0, "expected guest width, 32 or 64 (0: any)");

struct hcrec_state {
	uint64_t calls, bad, next;
	uint64_t enc[2];	/* calls per encoding: cpuid, nop */
	char first_bad[160];
};

static const struct mh_api *mh;
static struct hcrec_state st;
static unsigned int want_width;

static void note_bad(const struct mh_hypercall *c, const char *what)
{
	if (!st.bad++)
		snprintf(st.first_bad, sizeof(st.first_bad),
			 "%s: seq=%" PRIu64 " width=%u args=%" PRIx64 ",%" PRIx64
			 ",%" PRIx64, what, c->args[0], c->width, c->args[1],
			 c->args[2], c->args[5]);
}

static uint64_t on_call(mh_cpu *cpu, const struct mh_hypercall *c, void *opaque)
{
	(void)opaque;
	st.calls++;
	st.enc[c->encoding == MH_HC_ENC_NOP]++;
	if (mh->hypercall_current(cpu) != c)
		note_bad(c, "hypercall_current");
	if (want_width && c->width != want_width)
		note_bad(c, "width");
	if (c->args[0] != st.next)
		note_bad(c, "sequence");
	for (unsigned int k = 1; k < 6; k++) {
		if (c->args[k] != hc_pattern(c->width, k, (uint32_t)c->args[0])) {
			note_bad(c, "argument");
			break;
		}
	}
	st.next = c->args[0] + 1;
	return c->args[0] + 1;
}

static int hcrec_init(mh_module *self, const struct mh_api *api)
{
	uint32_t m = (uint32_t)api->param_uint(self, "magic");

	mh = api;
	want_width = (unsigned int)api->param_uint(self, "width");
	api->log(self, MH_LOG_INFO, "init version %s magic=0x%08" PRIx32,
		 HCREC_VERSION, m);
	return api->hypercall_register(self, m, on_call, NULL);
}

static void hcrec_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO,
		"exit version %s calls=%" PRIu64 " bad=%" PRIu64 " next=%" PRIu64
		" cpuid=%" PRIu64 " nop=%" PRIu64 "%s%s", HCREC_VERSION, st.calls,
		st.bad, st.next, st.enc[0], st.enc[1], st.bad ? " first_bad=" : "",
		st.first_bad);
}

static int hcrec_save(mh_module *self, void **data, size_t *len)
{
	(void)self;
	*data = malloc(sizeof(st));
	if (!*data)
		return -ENOMEM;
	memcpy(*data, &st, sizeof(st));
	*len = sizeof(st);
	return 0;
}

static int hcrec_restore(mh_module *self, const void *data, size_t len,
			 const char *old_version)
{
	(void)self;
	(void)old_version;
	if (len != sizeof(st))
		return -EINVAL;
	memcpy(&st, data, len);
	return 0;
}

MH_MODULE("hcrec", HCREC_VERSION, "MIT", "test module: records hypercalls",
	  .init = hcrec_init, .exit = hcrec_exit, .save_state = hcrec_save,
	  .restore_state = hcrec_restore);
