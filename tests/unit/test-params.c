// SPDX-License-Identifier: MIT
/*
 * Unit tests for host/params.c, without QEMU: parameter values checked
 * against their declared type (mh_param_check, mh_param_as_bool and the
 * type names), module names (mh_valid_module_name), and the host's plugin
 * arguments (mh_args_parse, mh_args_clear).
 *
 * Arguments are parsed from a heap copy of argv that is freed at once, and
 * the default directory likewise, so that under valgrind a parser keeping
 * pointers into either shows as an invalid read.
 */
#include <errno.h>
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "unit.h"

#define DEFAULT_DIR "/default/modules"

/* For g_auto(), which needs a one-word type name. */
typedef struct mh_host_args mh_host_args_t;
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(mh_host_args_t, mh_args_clear)

/* -- helpers ----------------------------------------------------------- */

/* Parse @argv with DEFAULT_DIR; both are copies freed before returning. */
static int args_parse(struct mh_host_args *a, const char *const *argv,
		      char **err)
{
	g_auto(GStrv) copy = g_strdupv((char **)argv);
	g_autofree char *dir = g_strdup(DEFAULT_DIR);

	return mh_args_parse(a, g_strv_length(copy), copy, dir, err);
}

static void args_ok(struct mh_host_args *a, const char *const *argv)
{
	g_autofree char *err = NULL;
	int ret = args_parse(a, argv, &err);

	if (ret)
		g_test_message("mh_args_parse: %s", err);
	g_assert_cmpint(ret, ==, 0);
	g_assert_null(err);
}

/* The value @a gives @module.@param, or NULL. */
static const char *param_value(const struct mh_host_args *a,
			       const char *module, const char *param)
{
	GHashTable *mp = g_hash_table_lookup(a->params, module);

	return mp ? g_hash_table_lookup(mp, param) : NULL;
}

static guint module_param_count(const struct mh_host_args *a,
				const char *module)
{
	GHashTable *mp = g_hash_table_lookup(a->params, module);

	/* Not counting the order line mh_param_add() keeps. */
	return mp ? g_hash_table_size(mp) -
		    g_hash_table_contains(mp, MH_PARAM_ORDER) : 0;
}

/* -- mh_param_check ---------------------------------------------------- */

struct values {
	const char *path;
	enum mh_ptype type;
	const char *type_name;	/* what a refusal must say */
	bool valid;
	const char *const *vals;
};

static const struct values values[] = {
	{ "/params/check/bool/valid", MH_PT_BOOL, "bool", true,
	  STRV("on", "off", "true", "false", "yes", "no", "1", "0",
	       "ON", "Off", "TRUE", "fAlSe", "Yes", "NO") },
	{ "/params/check/bool/invalid", MH_PT_BOOL, "bool", false,
	  STRV("maybe", "", "2", "onn", " on", "on ", "y", "enabled", "-1") },
	{ "/params/check/int/valid", MH_PT_INT, "int", true,
	  STRV("-5", "0", "42", "0x10", "9223372036854775807",
	       "-9223372036854775808") },
	{ "/params/check/int/invalid", MH_PT_INT, "int", false,
	  STRV("9223372036854775808", "-9223372036854775809", "12abc", "",
	       "0x", "abc", " 1", "1 ", "1.5", "--1") },
	{ "/params/check/uint/valid", MH_PT_UINT, "uint", true,
	  STRV("0", "42", "0x10", "0X1F", "0xffffffffffffffff",
	       "18446744073709551615") },
	{ "/params/check/uint/invalid", MH_PT_UINT, "uint", false,
	  STRV("-1", "18446744073709551616", "0x10000000000000000", "0x",
	       "0X", "", "12abc", "+1", " 1", "1 ", "0x-1", "0x+1", "0x 1",
	       "0xg", "0x0x1", "1.0") },
	{ "/params/check/str", MH_PT_STR, "str", true,
	  STRV("", "anything", "with=equals:and:colons", " spaced ", "-1") },
	{ "/params/check/list", MH_PT_LIST, "list", true,
	  STRV("", "one", "a:b@0x10", "two\nvalues") },
};

static void test_values(gconstpointer data)
{
	const struct values *v = data;

	for (const char *const *val = v->vals; *val; val++) {
		g_autofree char *err = NULL;
		g_autofree char *quoted = g_strdup_printf("'%s'", *val);
		int ret = mh_param_check(v->type, *val, &err);

		g_test_message("%s '%s': %d %s", v->type_name, *val, ret,
			       err ? err : "");
		if (v->valid) {
			g_assert_cmpint(ret, ==, 0);
			g_assert_null(err);
		} else {
			g_assert_cmpint(ret, ==, -EINVAL);
			assert_error(err, STRV(quoted, v->type_name));
		}
	}
}

static void test_as_bool(void)
{
	static const char *const yes[] = { "on", "true", "yes", "1", "ON",
					   "True", "YES" };
	static const char *const no[] = { "off", "false", "no", "0", "OFF",
					  "False", "No", "maybe", "" };

	for (unsigned int i = 0; i < G_N_ELEMENTS(yes); i++)
		g_assert_true(mh_param_as_bool(yes[i]));
	for (unsigned int i = 0; i < G_N_ELEMENTS(no); i++)
		g_assert_false(mh_param_as_bool(no[i]));
}

static void test_ptype_names(void)
{
	static const struct {
		const char *name;
		enum mh_ptype type;
	} types[] = {
		{ "bool", MH_PT_BOOL },
		{ "int", MH_PT_INT },
		{ "uint", MH_PT_UINT },
		{ "str", MH_PT_STR },
		{ "list", MH_PT_LIST },
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(types); i++) {
		enum mh_ptype t = -1;

		g_assert_cmpint(mh_ptype_from_string(types[i].name, &t), ==, 0);
		g_assert_cmpint(t, ==, types[i].type);
		g_assert_cmpstr(mh_ptype_name(t), ==, types[i].name);
	}
}

static void test_ptype_unknown(void)
{
	static const char *const bad[] = { "float", "", "Bool", "string",
					   "uint ", "u" };

	for (unsigned int i = 0; i < G_N_ELEMENTS(bad); i++) {
		enum mh_ptype t = MH_PT_STR;

		g_assert_cmpint(mh_ptype_from_string(bad[i], &t), ==, -EINVAL);
		g_assert_cmpint(t, ==, MH_PT_STR);
	}
}

/* -- mh_valid_module_name ---------------------------------------------- */

static bool valid_name(const char *s)
{
	return mh_valid_module_name(s, strlen(s));
}

static void test_module_name_valid(void)
{
	static const char *const ok[] = { "a", "counter", "dep_user",
					  "my-mod_2", "AZaz09_-", "-", "_" };
	g_autofree char *longest = g_strnfill(MH_NAME_MAX, 'm');

	for (unsigned int i = 0; i < G_N_ELEMENTS(ok); i++) {
		g_test_message("'%s'", ok[i]);
		g_assert_true(valid_name(ok[i]));
	}
	g_assert_true(valid_name(longest));
}

static void test_module_name_invalid(void)
{
	static const char *const bad[] = { "", "a/b", "/a", "..", ".", "a.b",
					   "a b", "a:b", "a=b", "caf\xc3\xa9",
					   "a\n", "a\t", "a\\b" };
	g_autofree char *too_long = g_strnfill(MH_NAME_MAX + 1, 'm');

	for (unsigned int i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("'%s'", bad[i]);
		g_assert_false(valid_name(bad[i]));
	}
	g_assert_false(valid_name(too_long));
}

static void test_module_name_length(void)
{
	/* Only the first @len bytes count. */
	g_assert_true(mh_valid_module_name("counter.so", 7));
	g_assert_true(mh_valid_module_name("a/b", 1));
	g_assert_false(mh_valid_module_name("abc", 0));
	g_assert_false(mh_valid_module_name("ab\0c", 4));
	g_assert_false(mh_valid_module_name("counter.so", 8));
}

/* -- mh_args_parse: accepted ------------------------------------------- */

static void test_args_defaults(void)
{
	g_auto(mh_host_args_t) a = { 0 };

	args_ok(&a, STRV(NULL));
	g_assert_cmpstr(a.dir, ==, DEFAULT_DIR);
	g_assert_true(a.watch);
	g_assert_null(a.log);
	g_assert_null(a.ctl);
	g_assert_false(a.accounting);
	g_assert_false(a.guest_control);
	g_assert_null(a.routes);
	g_assert_cmpuint(a.nroutes, ==, 0);
	g_assert_true(!a.load || !a.load[0]);
	g_assert_nonnull(a.params);
	g_assert_cmpuint(g_hash_table_size(a.params), ==, 0);
}

static void test_args_all_keys(void)
{
	g_auto(mh_host_args_t) a = { 0 };

	args_ok(&a, STRV("dir=/tmp/mods", "load=counter", "watch=off",
			 "log=/tmp/events.jsonl", "ctl=/tmp/ctl.sock",
			 "accounting=on", "guest_control=on",
			 "route=0x12340001:m.f", "route=0x1abc0000:n.g_2"));
	g_assert_true(a.guest_control);
	/* Parsed once, here: hypercall.c takes them as they are. */
	g_assert_cmpuint(a.nroutes, ==, 2);
	g_assert_cmpstr(a.routes[0].spec, ==, "0x12340001:m.f");
	g_assert_cmpuint(a.routes[0].magic, ==, 0x12340001);
	g_assert_cmpstr(a.routes[0].module, ==, "m");
	g_assert_cmpstr(a.routes[0].symbol, ==, "f");
	g_assert_cmpstr(a.routes[1].spec, ==, "0x1abc0000:n.g_2");
	g_assert_cmpuint(a.routes[1].magic, ==, 0x1abc0000);
	g_assert_cmpstr(a.routes[1].module, ==, "n");
	g_assert_cmpstr(a.routes[1].symbol, ==, "g_2");
	g_assert_cmpstr(a.dir, ==, "/tmp/mods");
	g_assert_nonnull(a.load);
	g_assert_true(g_strv_equal((const char *const *)a.load,
				   STRV("counter")));
	g_assert_false(a.watch);
	g_assert_cmpstr(a.log, ==, "/tmp/events.jsonl");
	g_assert_cmpstr(a.ctl, ==, "/tmp/ctl.sock");
	g_assert_true(a.accounting);
	g_assert_cmpuint(g_hash_table_size(a.params), ==, 0);
}

static void test_args_watch(void)
{
	static const struct {
		const char *arg;
		bool watch;
	} cases[] = {
		{ "watch=on", true }, { "watch=off", false },
		{ "watch=yes", true }, { "watch=no", false },
		{ "watch=true", true }, { "watch=false", false },
		{ "watch=1", true }, { "watch=0", false },
		{ "watch=ON", true }, { "watch=Off", false },
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(mh_host_args_t) a = { 0 };

		g_test_message("%s", cases[i].arg);
		args_ok(&a, STRV(cases[i].arg));
		g_assert_cmpint(a.watch, ==, cases[i].watch);
	}
}

static void test_args_quiesce(void)
{
	g_auto(mh_host_args_t) a = { 0 }, b = { 0 }, c = { 0 };

	args_ok(&a, STRV("dir=/d"));
	g_assert_false(a.doorbell);
	args_ok(&b, STRV("quiesce=doorbell"));
	g_assert_true(b.doorbell);
	args_ok(&c, STRV("quiesce=doorbell", "quiesce=direct"));
	g_assert_false(c.doorbell);
}

static void test_args_load_order(void)
{
	g_auto(mh_host_args_t) a = { 0 };

	args_ok(&a, STRV("load=c:a:b_2:dep-user"));
	g_assert_nonnull(a.load);
	g_assert_true(g_strv_equal((const char *const *)a.load,
				   STRV("c", "a", "b_2", "dep-user")));
}

static void test_args_later_wins(void)
{
	g_auto(mh_host_args_t) a = { 0 };

	args_ok(&a, STRV("dir=/a", "load=x", "log=/l1", "watch=off",
			 "dir=/b", "load=y:z", "log=/l2", "watch=on"));
	g_assert_cmpstr(a.dir, ==, "/b");
	g_assert_true(g_strv_equal((const char *const *)a.load,
				   STRV("y", "z")));
	g_assert_cmpstr(a.log, ==, "/l2");
	g_assert_true(a.watch);
}

static void test_args_value_with_equals(void)
{
	g_auto(mh_host_args_t) a = { 0 };

	args_ok(&a, STRV("dir=/x=y", "m.p=a=b=c", "log=/l=1"));
	g_assert_cmpstr(a.dir, ==, "/x=y");
	g_assert_cmpstr(param_value(&a, "m", "p"), ==, "a=b=c");
	g_assert_cmpstr(a.log, ==, "/l=1");
}

static void test_args_module_params(void)
{
	g_auto(mh_host_args_t) a = { 0 };

	args_ok(&a, STRV("counter.start=5", "dir=/d",
			 "counter.heartbeat=/tmp/hb", "dep_user.verbose=on",
			 "my-mod_2._x1=v"));
	g_assert_cmpstr(a.dir, ==, "/d");
	g_assert_cmpuint(g_hash_table_size(a.params), ==, 3);
	g_assert_cmpuint(module_param_count(&a, "counter"), ==, 2);
	g_assert_cmpstr(param_value(&a, "counter", "start"), ==, "5");
	g_assert_cmpstr(param_value(&a, "counter", "heartbeat"), ==, "/tmp/hb");
	g_assert_cmpuint(module_param_count(&a, "dep_user"), ==, 1);
	g_assert_cmpstr(param_value(&a, "dep_user", "verbose"), ==, "on");
	g_assert_cmpstr(param_value(&a, "my-mod_2", "_x1"), ==, "v");
	/* Each module's KEY=VALUE, in the order given: a QEMU plugin's argv. */
	g_assert_cmpstr(param_value(&a, "counter", MH_PARAM_ORDER), ==,
			"start=5\nheartbeat=/tmp/hb");
	g_assert_null(param_value(&a, "counter", "verbose"));
	g_assert_null(param_value(&a, "nomod", "start"));
}

static void test_args_module_param_repeat(void)
{
	g_auto(mh_host_args_t) a = { 0 };

	args_ok(&a, STRV("m.p=1", "m.q=x", "m.p=2", "m.p=", "m.p=3"));
	g_assert_cmpuint(g_hash_table_size(a.params), ==, 1);
	g_assert_cmpuint(module_param_count(&a, "m"), ==, 2);
	/* Every value is kept, in order: a list gets them all, others the last. */
	g_assert_cmpstr(param_value(&a, "m", "p"), ==, "1\n2\n\n3");
	g_assert_cmpstr(mh_param_value(MH_PT_LIST, param_value(&a, "m", "p")),
			==, "1\n2\n\n3");
	g_assert_cmpstr(mh_param_value(MH_PT_STR, param_value(&a, "m", "p")),
			==, "3");
	g_assert_cmpstr(mh_param_value(MH_PT_UINT, "1\n2"), ==, "2");
	g_assert_cmpstr(param_value(&a, "m", "q"), ==, "x");
}

/* A repeated scalar is checked as its last value: an override wins. */
static void test_check_repeated(void)
{
	g_autofree char *err = NULL;

	g_assert_cmpint(mh_param_check(MH_PT_BOOL, "x\non", &err), ==, 0);
	g_assert_cmpint(mh_param_check(MH_PT_UINT, "1\n0x10", &err), ==, 0);
	g_assert_cmpint(mh_param_check(MH_PT_LIST, "a\n\nb", &err), ==, 0);
	g_assert_null(err);
	g_assert_cmpint(mh_param_check(MH_PT_BOOL, "on\nx", &err), ==, -EINVAL);
	assert_error(err, STRV("'x'", "bool"));
}

static void test_args_module_param_empty(void)
{
	g_auto(mh_host_args_t) a = { 0 };

	/* An empty value is for the module's declared type to judge. */
	args_ok(&a, STRV("m.p="));
	g_assert_cmpstr(param_value(&a, "m", "p"), ==, "");
}

/* -- mh_args_parse: refused -------------------------------------------- */

struct arg_refusal {
	const char *path;
	const char *const *argv;
	int ret;
	const char *const *needles;	/* the message contains each */
};

static const struct arg_refusal arg_refusals[] = {
	{ "/params/args/refuse/no-equals", STRV("watch"),
	  -EINVAL, STRV("'watch'", "KEY=VALUE") },
	{ "/params/args/refuse/empty-key", STRV("=x"),
	  -EINVAL, STRV("'=x'", "KEY=VALUE") },
	{ "/params/args/refuse/unknown-key", STRV("colour=blue"),
	  -EINVAL, STRV("'colour=blue'") },
	{ "/params/args/refuse/unknown-after-valid",
	  STRV("dir=/d", "load=a", "m.p=1", "log=/l", "bogus=1"),
	  -EINVAL, STRV("'bogus=1'") },
	{ "/params/args/refuse/bad-watch", STRV("watch=maybe"),
	  -EINVAL, STRV("watch=maybe") },
	{ "/params/args/refuse/empty-watch", STRV("watch="),
	  -EINVAL, STRV("watch=") },
	{ "/params/args/refuse/empty-dir", STRV("dir="),
	  -EINVAL, STRV("dir=") },
	{ "/params/args/refuse/empty-log", STRV("log="),
	  -EINVAL, STRV("log=") },
	{ "/params/args/refuse/load-slash", STRV("load=a/b"),
	  -EINVAL, STRV("load=a/b", "'a/b'") },
	{ "/params/args/refuse/load-dotdot", STRV("load=a:.."),
	  -EINVAL, STRV("load=a:..", "'..'") },
	{ "/params/args/refuse/load-empty-name", STRV("load=a::b"),
	  -EINVAL, STRV("load=a::b", "''") },
	{ "/params/args/refuse/load-trailing-colon", STRV("load=a:"),
	  -EINVAL, STRV("load=a:", "''") },
	{ "/params/args/refuse/param-bad-module", STRV("a/b.x=1"),
	  -EINVAL, STRV("a/b.x=1") },
	{ "/params/args/refuse/param-bad-name", STRV("m.1x=2"),
	  -EINVAL, STRV("m.1x=2") },
	{ "/params/args/refuse/param-empty-module", STRV(".x=1"),
	  -EINVAL, STRV(".x=1") },
	{ "/params/args/refuse/param-empty-name", STRV("m.=1"),
	  -EINVAL, STRV("m.=1") },
	{ "/params/args/refuse/param-dotted-name", STRV("m.a.b=1"),
	  -EINVAL, STRV("m.a.b=1") },
	{ "/params/args/refuse/param-dash-name", STRV("m.a-b=1"),
	  -EINVAL, STRV("m.a-b=1") },
	{ "/params/args/refuse/empty-ctl", STRV("ctl="),
	  -EINVAL, STRV("ctl=") },
	{ "/params/args/refuse/bad-accounting", STRV("accounting=maybe"),
	  -EINVAL, STRV("accounting=maybe") },
	{ "/params/args/refuse/guest-control", STRV("guest_control=maybe"),
	  -EINVAL, STRV("guest_control=maybe", "on or off") },
	{ "/params/args/refuse/quiesce", STRV("quiesce=maybe"),
	  -EINVAL, STRV("quiesce=maybe", "direct or doorbell") },
	{ "/params/args/refuse/route", STRV("route=a:b"),
	  -EINVAL, STRV("route=a:b", "0xMAGIC:module.symbol") },
	{ "/params/args/refuse/route-reserved", STRV("route=0x4d480001:m.f"),
	  -EINVAL, STRV("route=0x4d480001:m.f", "host-reserved") },
	{ "/params/args/refuse/route-leaf", STRV("route=0x80000001:m.f"),
	  -EINVAL, STRV("real cpuid leaf") },
	{ "/params/args/refuse/route-wide", STRV("route=0x123456789:m.f"),
	  -EINVAL, STRV("0xMAGIC:module.symbol") },
	{ "/params/args/refuse/route-symbol", STRV("route=0x12340000:m.1f"),
	  -EINVAL, STRV("route=0x12340000:m.1f", "is not module.symbol") },
	{ "/params/args/refuse/unknown-lists-keys", STRV("colour=blue"),
	  -EINVAL, STRV("guest_control=", "route=") },
};

static void test_arg_refusal(gconstpointer data)
{
	const struct arg_refusal *c = data;
	g_auto(mh_host_args_t) a = { 0 };
	g_autofree char *err = NULL;
	int ret = args_parse(&a, c->argv, &err);

	g_test_message("mh_args_parse: %d %s", ret, err ? err : "(no message)");
	g_assert_cmpint(ret, ==, c->ret);
	assert_error(err, c->needles);
}

/* -- mh_args_clear ----------------------------------------------------- */

static void test_args_clear(void)
{
	struct mh_host_args a = { 0 };

	args_ok(&a, STRV("dir=/d", "load=a:b", "log=/l", "watch=off",
			 "m.p=1", "n.q=2"));
	mh_args_clear(&a);
	g_assert_null(a.dir);
	g_assert_null(a.load);
	g_assert_null(a.log);
	g_assert_null(a.params);
	/* Clearing again, or a never-parsed struct, is harmless. */
	mh_args_clear(&a);
	memset(&a, 0, sizeof(a));
	mh_args_clear(&a);
}

/* -- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	for (unsigned int i = 0; i < G_N_ELEMENTS(values); i++)
		g_test_add_data_func(values[i].path, &values[i], test_values);
	g_test_add_func("/params/as-bool", test_as_bool);
	g_test_add_func("/params/ptype/names", test_ptype_names);
	g_test_add_func("/params/ptype/unknown", test_ptype_unknown);

	g_test_add_func("/params/module-name/valid", test_module_name_valid);
	g_test_add_func("/params/module-name/invalid",
			test_module_name_invalid);
	g_test_add_func("/params/module-name/length", test_module_name_length);

	g_test_add_func("/params/args/defaults", test_args_defaults);
	g_test_add_func("/params/args/all-keys", test_args_all_keys);
	g_test_add_func("/params/args/watch", test_args_watch);
	g_test_add_func("/params/args/quiesce", test_args_quiesce);
	g_test_add_func("/params/args/load-order", test_args_load_order);
	g_test_add_func("/params/args/later-wins", test_args_later_wins);
	g_test_add_func("/params/check/repeated", test_check_repeated);
	g_test_add_func("/params/args/value-with-equals",
			test_args_value_with_equals);
	g_test_add_func("/params/args/module-params", test_args_module_params);
	g_test_add_func("/params/args/module-param-repeat",
			test_args_module_param_repeat);
	g_test_add_func("/params/args/module-param-empty",
			test_args_module_param_empty);
	for (unsigned int i = 0; i < G_N_ELEMENTS(arg_refusals); i++)
		g_test_add_data_func(arg_refusals[i].path, &arg_refusals[i],
				     test_arg_refusal);
	g_test_add_func("/params/args/clear", test_args_clear);

	return g_test_run();
}
