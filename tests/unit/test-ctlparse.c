// SPDX-License-Identifier: MIT
/*
 * Unit tests for the control socket's request grammar (host/ctlparse.c)
 * and the magic and route parsers it shares with the plugin's route=
 * (host/params.c), without QEMU and without clang: mh_ctl_parse,
 * mh_route_parse, mh_magic_parse, and the command table
 * mh_ctl_commands[] the usage messages and modctl's help come from.
 *
 * Every request is parsed from a heap copy of exactly its bytes (no NUL
 * after them), so that under valgrind a parser reading past @len shows.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "unit.h"

/* -- helpers ----------------------------------------------------------- */

static int parse(const char *line, struct mh_ctl_req *req, char **err)
{
	size_t len = strlen(line);
	g_autofree char *copy = g_memdup2(line, len ? len : 1);

	return mh_ctl_parse(copy, len, req, err);
}

static void parse_ok(const char *line, struct mh_ctl_req *req)
{
	g_autofree char *err = NULL;
	int ret = parse(line, req, &err);

	if (ret)
		g_test_message("mh_ctl_parse(\"%s\"): %s", line, err);
	g_assert_cmpint(ret, ==, 0);
	g_assert_null(err);
}

/* A message goes into a JSON reply as it is: one short printable line. */
static void assert_message_line(const char *err)
{
	g_assert_nonnull(err);
	g_assert_cmpuint(strlen(err), <=, 256);
	g_assert_true(g_utf8_validate(err, -1, NULL));
	for (const unsigned char *p = (const unsigned char *)err; *p; p++)
		g_assert_cmpuint(*p, >=, 0x20);
}

/* -- requests that parse ----------------------------------------------- */

static void test_queries(void)
{
	static const struct { const char *line; enum mh_ctl_cmd cmd; } q[] = {
		{ "list", MH_CTL_LIST }, { "symbols", MH_CTL_SYMBOLS },
		{ "routes", MH_CTL_ROUTES }, { "stats", MH_CTL_STATS },
		{ "  list\t", MH_CTL_LIST }, { "stats\r", MH_CTL_STATS },
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(q); i++) {
		struct mh_ctl_req req;

		parse_ok(q[i].line, &req);
		g_assert_cmpint(req.cmd, ==, q[i].cmd);
		g_assert_null(req.name);
		g_assert_null(req.params);
		g_assert_false(mh_ctl_changes_modules(req.cmd));
		mh_ctl_req_clear(&req);
	}
}

static void test_load_params(void)
{
	struct mh_ctl_req req;

	parse_ok("load counter start=5 tag=x\ttag=y path=a=b", &req);
	g_assert_cmpint(req.cmd, ==, MH_CTL_LOAD);
	g_assert_true(mh_ctl_changes_modules(req.cmd));
	g_assert_cmpstr(req.name, ==, "counter");
	/* Three keys, and every KEY=VALUE in the order given (param_args). */
	g_assert_cmpuint(g_hash_table_size(req.params), ==, 4);
	g_assert_cmpstr(g_hash_table_lookup(req.params, MH_PARAM_ORDER), ==,
			"start=5\ntag=x\ntag=y\npath=a=b");
	g_assert_cmpstr(g_hash_table_lookup(req.params, "start"), ==, "5");
	/* A key given again keeps every value, one a line. */
	g_assert_cmpstr(g_hash_table_lookup(req.params, "tag"), ==, "x\ny");
	g_assert_cmpstr(g_hash_table_lookup(req.params, "path"), ==, "a=b");
	mh_ctl_req_clear(&req);

	parse_ok("load dep-user_2", &req);
	g_assert_cmpstr(req.name, ==, "dep-user_2");
	g_assert_null(req.params);
	mh_ctl_req_clear(&req);
}

static void test_unload_param(void)
{
	struct mh_ctl_req req;

	parse_ok("unload counter", &req);
	g_assert_cmpint(req.cmd, ==, MH_CTL_UNLOAD);
	g_assert_false(req.force);
	mh_ctl_req_clear(&req);
	parse_ok("unload counter force", &req);
	g_assert_true(req.force);
	mh_ctl_req_clear(&req);

	parse_ok("param counter start=7", &req);
	g_assert_cmpint(req.cmd, ==, MH_CTL_PARAM);
	g_assert_cmpstr(req.name, ==, "counter");
	g_assert_cmpstr(g_hash_table_lookup(req.params, "start"), ==, "7");
	mh_ctl_req_clear(&req);
}

static void test_route_unroute(void)
{
	struct mh_ctl_req req;

	parse_ok("route 0x12340010:hcsym.hc_greet", &req);
	g_assert_cmpint(req.cmd, ==, MH_CTL_ROUTE);
	g_assert_cmphex(req.magic, ==, 0x12340010);
	g_assert_cmpstr(req.name, ==, "hcsym");
	g_assert_cmpstr(req.symbol, ==, "hc_greet");
	g_assert_false(mh_ctl_changes_modules(req.cmd));
	mh_ctl_req_clear(&req);

	parse_ok("unroute 0xABC00", &req);
	g_assert_cmpint(req.cmd, ==, MH_CTL_UNROUTE);
	g_assert_cmphex(req.magic, ==, 0xabc00);
	mh_ctl_req_clear(&req);
}

/*
 * The socket and route= take the same routes: a long symbol name (the
 * registry has no limit on one) is as good on the socket as at start.
 */
static void test_route_long_symbol(void)
{
	g_autofree char *sym = g_strnfill(200, 's');
	g_autofree char *spec = g_strdup_printf("0x12340010:mod.%s", sym);
	g_autofree char *line = g_strdup_printf("route %s", spec);
	g_autofree char *module = NULL, *symbol = NULL, *why = NULL;
	struct mh_ctl_req req;
	uint32_t magic;

	g_assert_cmpint(mh_route_parse(spec, &magic, &module, &symbol, &why),
			==, 0);
	parse_ok(line, &req);
	g_assert_cmphex(req.magic, ==, magic);
	g_assert_cmpstr(req.name, ==, module);
	g_assert_cmpstr(req.symbol, ==, symbol);
	mh_ctl_req_clear(&req);
}

/* ... and refuse the same ones, for the same reason, in a short message. */
static void test_route_same_errors(void)
{
	g_autofree char *xs = g_strnfill(3000, 'x');
	g_autofree char *longbad = g_strdup_printf("0x12340010:mod.%s-", xs);
	const char *const bad[] = {
		"12345:a.b", "0x:a.b", "0x123456789:a.b", "0xgg:a.b",
		"0x80000001:a.b", "0x4d480001:a.b", "0x12340000:mod",
		"0x12340000:mod.1f", "0x12340000:m/d.f", "0x12340000:.f",
		"0x12340000:mod.f\xc3\xa9", longbad,
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *module = NULL, *symbol = NULL, *why = NULL;
		g_autofree char *line = g_strdup_printf("route %s", bad[i]);
		g_autofree char *err = NULL;
		struct mh_ctl_req req;
		uint32_t magic;

		g_assert_cmpint(mh_route_parse(bad[i], &magic, &module,
					       &symbol, &why), ==, -EINVAL);
		g_assert_null(module);
		g_assert_cmpint(parse(line, &req, &err), ==, -EINVAL);
		g_test_message("route=%.60s: %s | ctl: %s", bad[i], why, err);
		assert_contains(err, why);
		assert_message_line(err);
	}
}

/* -- requests refused ---------------------------------------------------- */

struct refusal {
	const char *path;
	const char *line;
	const char *const *needles;
};

static const struct refusal refusals[] = {
	{ "/ctl/refuse/empty", "", STRV("empty request") },
	{ "/ctl/refuse/blank", " \t ", STRV("empty request") },
	{ "/ctl/refuse/unknown", "frobnicate counter",
	  STRV("unknown command 'frobnicate'", "list", "unroute") },
	{ "/ctl/refuse/missing", "info", STRV("missing argument: usage: info NAME") },
	{ "/ctl/refuse/missing-param", "param counter",
	  STRV("missing argument: usage: param NAME KEY=VALUE") },
	{ "/ctl/refuse/extra", "list all", STRV("too many arguments: usage: list") },
	{ "/ctl/refuse/extra-unload", "unload a force now",
	  STRV("too many arguments: usage: unload NAME [force]") },
	{ "/ctl/refuse/not-force", "unload counter now",
	  STRV("'now': usage: unload NAME [force]") },
	{ "/ctl/refuse/name", "load ../counter", STRV("not a module name") },
	{ "/ctl/refuse/name-long",
	  "info aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	  STRV("not a module name", "...") },
	{ "/ctl/refuse/assign", "load counter =1", STRV("expected KEY=VALUE") },
	{ "/ctl/refuse/assign-none", "load counter start", STRV("expected KEY=VALUE") },
	{ "/ctl/refuse/key", "load counter 1x=2", STRV("identifier") },
	{ "/ctl/refuse/control", "list\x01", STRV("control characters") },
	{ "/ctl/refuse/utf8", "info \xff\xfe", STRV("invalid UTF-8") },
	{ "/ctl/refuse/route-missing", "route",
	  STRV("missing argument: usage: route 0xMAGIC:MODULE.SYMBOL") },
	{ "/ctl/refuse/unroute-target", "unroute 0x12340000:a.b",
	  STRV("usage: unroute 0xMAGIC") },
	{ "/ctl/refuse/unroute-word", "unroute banana",
	  STRV("expected 0xMAGIC (1 to 8 hex digits)") },
	{ "/ctl/refuse/unroute-reserved", "unroute 0x4d480002",
	  STRV("host-reserved") },
};

static void test_refusal(gconstpointer data)
{
	const struct refusal *r = data;
	g_autofree char *err = NULL;
	struct mh_ctl_req req;

	g_assert_cmpint(parse(r->line, &req, &err), ==, -EINVAL);
	g_test_message("%s", err);
	assert_error(err, r->needles);
	assert_message_line(err);
	/* Nothing is left to free in a refused request. */
	g_assert_null(req.name);
	g_assert_null(req.params);
	g_assert_null(req.symbol);
}

static void test_refuse_long_line(void)
{
	g_autofree char *v = g_strnfill(MH_CTL_LINE_MAX, 'v');
	g_autofree char *line = g_strdup_printf("load counter x=%s", v);
	g_autofree char *err = NULL;
	struct mh_ctl_req req;

	g_assert_cmpint(parse(line, &req, &err), ==, -EINVAL);
	assert_contains(err, "request longer than 4096 bytes");
}

/* -- the command table ---------------------------------------------------- */

/*
 * Each command parses with as many arguments as its table entry allows,
 * and its usage message is the table's: a command missing from the table
 * or given other counts by the parser would fail here.
 */
static void test_table(void)
{
	static const char *const arg_for[] = {
		[MH_CTL_INFO] = "counter", [MH_CTL_LOAD] = "counter",
		[MH_CTL_UNLOAD] = "counter", [MH_CTL_RELOAD] = "counter",
		[MH_CTL_PARAM] = "counter", [MH_CTL_ROUTE] = "0x12340010:m.f",
		[MH_CTL_UNROUTE] = "0x12340010",
	};
	unsigned int n = 0;

	for (const struct mh_ctl_command *c = mh_ctl_commands; c->word; c++) {
		g_autofree char *usage = mh_ctl_usage(c);
		g_autofree char *err = NULL;
		g_autoptr(GString) line = g_string_new(c->word);
		struct mh_ctl_req req;

		n++;
		g_assert_true(mh_ctl_command_find(c->word) == c);
		g_assert_true(g_str_has_prefix(usage, c->word));
		g_assert_cmpstr(c->help, !=, "");
		if (c->min_args)
			g_string_append_printf(line, " %s", arg_for[c->cmd]);
		if (c->min_args > 1)
			g_string_append(line, " start=1");
		parse_ok(line->str, &req);
		g_assert_cmpint(req.cmd, ==, c->cmd);
		mh_ctl_req_clear(&req);

		if (c->max_args == G_MAXUINT)
			continue;
		for (unsigned int i = c->min_args; i <= c->max_args; i++)
			g_string_append(line, i ? " force" : " counter");
		g_assert_cmpint(parse(line->str, &req, &err), ==, -EINVAL);
		assert_contains(err, "too many arguments: usage: ");
		assert_contains(err, usage);
	}
	g_assert_cmpuint(n, ==, MH_CTL_UNROUTE + 1);
	g_assert_null(mh_ctl_command_find("lis"));
	g_assert_null(mh_ctl_command_find(""));
}

/* -- mh_magic_parse and mh_route_parse --------------------------------- */

static void test_magic(void)
{
	static const struct { const char *s; int ret; uint32_t m; } c[] = {
		{ "0x1", -EINVAL, 0 },			/* a cpuid leaf */
		{ "0x12340000", 0, 0x12340000 },
		{ "0xFFFFFFFF", 0, 0xffffffff },
		{ "0x4D47FFFF", 0, 0x4d47ffff },
		{ "0x4D480000", -EINVAL, 0 },		/* reserved, first */
		{ "0x4d4800ff", -EINVAL, 0 },		/* reserved, last */
		{ "0x4D480100", 0, 0x4d480100 },
		{ "0x40000005", -EINVAL, 0 },
		{ "0x", -EINVAL, 0 },
		{ "12340000", -EINVAL, 0 },
		{ "0x123456789", -EINVAL, 0 },
		{ "0x1234 00", -EINVAL, 0 },
		{ "0x-1234", -EINVAL, 0 },
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(c); i++) {
		g_autofree char *err = NULL;
		uint32_t m = 0;
		int ret = mh_magic_parse(c[i].s, strlen(c[i].s), &m, &err);

		g_test_message("%s: %d %s", c[i].s, ret, err ? err : "");
		g_assert_cmpint(ret, ==, c[i].ret);
		if (ret)
			assert_message_line(err);
		else
			g_assert_cmphex(m, ==, c[i].m);
	}
}

/* Only @len bytes count: the route parser hands over the part before ':'. */
static void test_magic_len(void)
{
	g_autofree char *err = NULL;
	uint32_t m = 0;

	g_assert_cmpint(mh_magic_parse("0x12340010:x", 10, &m, &err), ==, 0);
	g_assert_cmphex(m, ==, 0x12340010);
}

static void test_route(void)
{
	g_autofree char *module = NULL, *symbol = NULL, *err = NULL;
	uint32_t magic;

	g_assert_cmpint(mh_route_parse("0x12340010:dep-user.f_1", &magic,
				       &module, &symbol, &err), ==, 0);
	g_assert_cmphex(magic, ==, 0x12340010);
	g_assert_cmpstr(module, ==, "dep-user");
	g_assert_cmpstr(symbol, ==, "f_1");
	g_assert_null(err);
}

/* -- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/ctl/parse/queries", test_queries);
	g_test_add_func("/ctl/parse/load-params", test_load_params);
	g_test_add_func("/ctl/parse/unload-param", test_unload_param);
	g_test_add_func("/ctl/parse/route-unroute", test_route_unroute);
	g_test_add_func("/ctl/parse/route-long-symbol", test_route_long_symbol);
	g_test_add_func("/ctl/parse/route-same-errors", test_route_same_errors);
	for (unsigned int i = 0; i < G_N_ELEMENTS(refusals); i++)
		g_test_add_data_func(refusals[i].path, &refusals[i],
				     test_refusal);
	g_test_add_func("/ctl/refuse/long-line", test_refuse_long_line);
	g_test_add_func("/ctl/table", test_table);
	g_test_add_func("/ctl/magic", test_magic);
	g_test_add_func("/ctl/magic/len", test_magic_len);
	g_test_add_func("/ctl/route", test_route);
	return g_test_run();
}
