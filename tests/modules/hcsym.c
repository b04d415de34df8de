// SPDX-License-Identifier: MIT
/*
 * hcsym - exports functions for route=0xMAGIC:hcsym.SYMBOL, for
 * tests/integration/hypercall.t: the host calls them through libffi with
 * the guest's arguments converted by the signature.  Built with
 * HCSYM_SIG2 (hcsym-sig2.so, version "sig2"), hc_greet takes its first
 * argument as a guest address instead of a string: a route's call must
 * follow the export's signature as it is now (hypercall-sigcache.t).
 */
#include <inttypes.h>
#include <stdbool.h>

#include <modhost/module.h>

static const struct mh_api *mh;
static mh_module *me;

#ifndef HCSYM_SIG2
#define HCSYM_VERSION "1"
/* s: a guest string the host copied in; g: a guest address. */
static uint32_t hc_greet(const char *s, uint32_t n, uint64_t where)
{
	mh->log(me, MH_LOG_INFO, "greet s='%s' n=%" PRIu32 " g=%s", s, n,
		where ? "set" : "zero");
	return n + 1;
}
MH_EXPORT(hc_greet, "u32(s,u32,g)");
#else
#define HCSYM_VERSION "sig2"
/*
 * The string's guest address as a number: below 4 GiB in the test guests.
 * Called as u32(s,u32,g), it would get a host pointer (far above).
 */
static uint32_t hc_greet(uint64_t addr, uint32_t n, uint64_t where)
{
	mh->log(me, MH_LOG_INFO, "greet2 first=%s n=%" PRIu32 " g=%s",
		addr < (1ull << 32) ? "guest-address" : "other", n,
		where ? "set" : "zero");
	return n + 1;
}
MH_EXPORT(hc_greet, "u32(g,u32,g)");
#endif

/* A host pointer cannot come from a guest: the host refuses the call. */
static void hc_hostptr(void *p)
{
	mh->log(me, MH_LOG_INFO, "hostptr %p", p);
}
MH_EXPORT(hc_hostptr, "v(p)");

static int hcsym_init(mh_module *self, const struct mh_api *api)
{
	mh = api;
	me = self;
	return 0;
}

MH_MODULE("hcsym", HCSYM_VERSION, "MIT", "test module: hypercall routes to symbols",
	  .init = hcsym_init);
