// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the control socket's request parser
 * (host/ctlparse.c), which reads whatever a client sends.  The input is
 * one request line as the control thread hands it over (no newline).
 *
 * Built with -fsanitize=fuzzer,address,undefined (Makefile, CTL_FUZZ); run
 * by tests/fuzz/ctl-parse.t for a bounded time.  Besides crashes, leaks
 * and sanitizer reports, it aborts when the parser breaks its contract:
 *
 *  - it returns 0 or -EINVAL, and a refusal has a message, a success none;
 *  - a message is one short line of printable, valid UTF-8 (it goes into a
 *    JSON reply as it is);
 *  - an accepted request is well formed: a known command with the words it
 *    takes, a valid module name, parameter names that are identifiers, a
 *    route's magic one a module may route and its symbol an identifier;
 *  - an accepted request, written back as a line, parses to the same
 *    request (nothing of the input is lost or invented).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *err)
{
	if (!err || !*err || strlen(err) > 512)
		abort();
	if (!g_utf8_validate(err, -1, NULL))
		abort();
	for (const unsigned char *p = (const unsigned char *)err; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			abort();
	}
}

static bool takes_name(enum mh_ctl_cmd cmd)
{
	return cmd == MH_CTL_INFO || cmd == MH_CTL_LOAD ||
	       cmd == MH_CTL_UNLOAD || cmd == MH_CTL_RELOAD ||
	       cmd == MH_CTL_PARAM || cmd == MH_CTL_ROUTE;
}

static const char *const words[] = {
	[MH_CTL_LIST] = "list", [MH_CTL_INFO] = "info", [MH_CTL_LOAD] = "load",
	[MH_CTL_UNLOAD] = "unload", [MH_CTL_RELOAD] = "reload",
	[MH_CTL_SYMBOLS] = "symbols", [MH_CTL_ROUTES] = "routes",
	[MH_CTL_STATS] = "stats", [MH_CTL_PARAM] = "param",
	[MH_CTL_ROUTE] = "route", [MH_CTL_UNROUTE] = "unroute",
};

static void check_request(const struct mh_ctl_req *r)
{
	GHashTableIter it;
	gpointer k, v;

	if ((unsigned int)r->cmd >= G_N_ELEMENTS(words))
		abort();
	if (takes_name(r->cmd) !=
	    (r->name && mh_valid_module_name(r->name, strlen(r->name))))
		abort();
	if (r->force && r->cmd != MH_CTL_UNLOAD)
		abort();
	if ((r->cmd == MH_CTL_ROUTE) !=
	    (r->symbol && mh_valid_param_name(r->symbol)))
		abort();
	if ((r->cmd == MH_CTL_ROUTE || r->cmd == MH_CTL_UNROUTE) &&
	    !mh_hypercall_routable(r->magic))
		abort();
	/* One KEY=VALUE, and the order line mh_param_add() keeps. */
	if (r->cmd == MH_CTL_PARAM &&
	    (!r->params || g_hash_table_size(r->params) != 2 ||
	     !g_hash_table_contains(r->params, MH_PARAM_ORDER)))
		abort();
	if (r->params && r->cmd != MH_CTL_PARAM && r->cmd != MH_CTL_LOAD)
		abort();
	if (!r->params)
		return;
	g_hash_table_iter_init(&it, r->params);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (mh_param_is_order(k) && v)
			continue;
		if (!mh_valid_param_name(k) || !v)
			abort();
	}
}

/* @r as a request line, parameters sorted so that the order is fixed. */
static char *unparse(const struct mh_ctl_req *r)
{
	GString *s = g_string_new(words[r->cmd]);
	g_autoptr(GList) keys = NULL;

	if (r->cmd == MH_CTL_ROUTE || r->cmd == MH_CTL_UNROUTE) {
		g_string_append_printf(s, " 0x%" PRIx32, r->magic);
		if (r->symbol)
			g_string_append_printf(s, ":%s.%s", r->name, r->symbol);
		return g_string_free(s, FALSE);
	}
	if (r->name)
		g_string_append_printf(s, " %s", r->name);
	if (r->force)
		g_string_append(s, " force");
	if (r->params) {
		keys = g_list_sort(g_hash_table_get_keys(r->params),
				   (GCompareFunc)strcmp);
		/* A key given several times holds its values a line each. */
		for (GList *l = keys; l; l = l->next) {
			const char *v = g_hash_table_lookup(r->params, l->data);
			size_t n;

			if (mh_param_is_order(l->data))
				continue;

			do {
				n = strcspn(v, "\n");
				g_string_append_printf(s, " %s=%.*s",
						       (char *)l->data, (int)n, v);
				v += n + 1;
			} while (v[-1]);
		}
	}
	return g_string_free(s, FALSE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mh_ctl_req req, again;
	g_autofree char *err = NULL;
	g_autofree char *line = NULL;
	g_autofree char *line2 = NULL;
	g_autofree char *err2 = NULL;
	int ret;

	ret = mh_ctl_parse((const char *)data, size, &req, &err);
	if (ret) {
		if (ret != -EINVAL)
			abort();
		check_message(err);
		/* A refused request holds nothing. */
		if (req.name || req.params || req.force || req.symbol)
			abort();
		return 0;
	}
	if (err)
		abort();
	check_request(&req);

	line = unparse(&req);
	if (mh_ctl_parse(line, strlen(line), &again, &err2))
		abort();
	line2 = unparse(&again);
	if (strcmp(line, line2))
		abort();
	mh_ctl_req_clear(&again);
	mh_ctl_req_clear(&req);
	return 0;
}
