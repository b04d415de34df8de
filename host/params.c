// SPDX-License-Identifier: MIT
/*
 * The host's plugin arguments and module parameter values.
 *
 * Arguments come as "key=value" words from QEMU's -plugin option.  Module
 * parameters ("MODULE.PARAM=VALUE") are kept as strings here and checked
 * against the module's declared type at each load (loader.c), because a
 * module's declarations are only known from its file.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static const char *const ptype_names[] = {
	[MH_PT_BOOL] = "bool",
	[MH_PT_INT] = "int",
	[MH_PT_UINT] = "uint",
	[MH_PT_STR] = "str",
	[MH_PT_LIST] = "list",
};

const char *mh_ptype_name(enum mh_ptype t)
{
	return ptype_names[t];
}

int mh_ptype_from_string(const char *s, enum mh_ptype *t)
{
	for (unsigned int i = 0; i < G_N_ELEMENTS(ptype_names); i++) {
		if (!strcmp(s, ptype_names[i])) {
			*t = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int bool_parse(const char *val, bool *out)
{
	static const char *const yes[] = { "on", "true", "yes", "1" };
	static const char *const no[] = { "off", "false", "no", "0" };

	for (unsigned int i = 0; i < G_N_ELEMENTS(yes); i++) {
		if (!g_ascii_strcasecmp(val, yes[i])) {
			*out = true;
			return 0;
		}
		if (!g_ascii_strcasecmp(val, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

bool mh_param_as_bool(const char *val)
{
	bool b = false;

	bool_parse(val, &b);
	return b;
}

static void append_line(GHashTable *params, const char *key, const char *val)
{
	const char *old = g_hash_table_lookup(params, key);

	g_hash_table_insert(params, g_strdup(key),
			    old ? g_strconcat(old, "\n", val, NULL) : g_strdup(val));
}

void mh_param_order_add(GHashTable *params, const char *key, const char *val)
{
	g_autofree char *kv = g_strconcat(key, "=", val, NULL);

	append_line(params, MH_PARAM_ORDER, kv);
}

void mh_param_add(GHashTable *params, const char *key, const char *val)
{
	append_line(params, key, val);
	mh_param_order_add(params, key, val);
}

const char *mh_param_value(enum mh_ptype t, const char *val)
{
	const char *nl = t == MH_PT_LIST ? NULL : strrchr(val, '\n');

	return nl ? nl + 1 : val;
}

int mh_param_check(enum mh_ptype t, const char *val, char **err)
{
	bool b;
	guint64 u;

	val = mh_param_value(t, val);
	switch (t) {
	case MH_PT_BOOL:
		if (bool_parse(val, &b))
			goto bad;
		return 0;
	case MH_PT_INT: {
		/* g_ascii_string_to_signed() takes no base 0: no 0x. */
		char *end;

		if (!*val || g_ascii_isspace(*val))
			goto bad;
		errno = 0;
		(void)g_ascii_strtoll(val, &end, 0);
		if (errno || *end)
			goto bad;
		return 0;
	}
	case MH_PT_UINT:
		/* base 0 is not offered by the unsigned parser: allow 0x */
		if (g_str_has_prefix(val, "0x") || g_str_has_prefix(val, "0X")) {
			if (val[2] && g_ascii_string_to_unsigned(val + 2, 16, 0,
								 G_MAXUINT64,
								 &u, NULL))
				return 0;
		} else if (g_ascii_string_to_unsigned(val, 10, 0, G_MAXUINT64,
						      &u, NULL)) {
			return 0;
		}
		goto bad;
	case MH_PT_STR:
	case MH_PT_LIST:
		return 0;
	}
bad:
	*err = g_strdup_printf("'%s' is not a valid %s (expected %s)", val,
			       mh_ptype_name(t),
			       t == MH_PT_BOOL ? "on/off, true/false, yes/no or 1/0" :
			       t == MH_PT_INT ? "a signed 64-bit integer" :
			       "an unsigned 64-bit integer, decimal or 0x hex");
	return -EINVAL;
}

bool mh_valid_module_name(const char *s, size_t len)
{
	if (len == 0 || len > MH_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!g_ascii_isalnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	}
	return true;
}

bool mh_valid_param_name(const char *s)
{
	if (!*s || !(g_ascii_isalpha(*s) || *s == '_'))
		return false;
	for (; *s; s++) {
		if (!g_ascii_isalnum(*s) && *s != '_')
			return false;
	}
	return true;
}

int mh_magic_parse(const char *s, size_t len, uint32_t *magic, char **err)
{
	guint64 m;

	if (len < 3 || len > 10 || strncmp(s, "0x", 2)) {
		*err = g_strdup("expected 0xMAGIC (1 to 8 hex digits)");
		return -EINVAL;
	}
	g_autofree char *hex = g_strndup(s + 2, len - 2);
	if (!g_ascii_string_to_unsigned(hex, 16, 0, G_MAXUINT32, &m, NULL)) {
		*err = g_strdup_printf("'0x%s' is not a 32-bit hex magic", hex);
		return -EINVAL;
	}
	if (!mh_hypercall_routable(m)) {
		*err = g_strdup_printf(mh_hypercall_is_leaf(m) ?
				       "magic 0x%08x is in a real cpuid leaf range" :
				       "magic 0x%08x is host-reserved "
				       "(0x4d480000-0x4d4800ff)", (unsigned int)m);
		return -EINVAL;
	}
	*magic = m;
	return 0;
}

int mh_route_parse(const char *val, uint32_t *magic, char **module,
		   char **symbol, char **err)
{
	const char *colon = strchr(val, ':'), *dot;

	if (!colon || !g_str_has_prefix(val, "0x") || colon - val > 10 ||
	    colon - val < 3) {
		*err = g_strdup("expected 0xMAGIC:module.symbol (MAGIC 1 to 8 hex "
				"digits)");
		return -EINVAL;
	}
	if (mh_magic_parse(val, colon - val, magic, err))
		return -EINVAL;
	dot = strchr(colon + 1, '.');
	if (!dot || !mh_valid_module_name(colon + 1, dot - colon - 1) ||
	    !mh_valid_param_name(dot + 1)) {
		/* The caller quotes the whole value (a ctl word clipped). */
		*err = g_strdup("what follows the magic is not module.symbol");
		return -EINVAL;
	}
	*module = g_strndup(colon + 1, dot - colon - 1);
	*symbol = g_strdup(dot + 1);
	return 0;
}

static int parse_load_list(struct mh_host_args *a, const char *val, char **err)
{
	g_auto(GStrv) names = g_strsplit(val, ":", -1);

	for (char **n = names; *n; n++) {
		if (!mh_valid_module_name(*n, strlen(*n))) {
			*err = g_strdup_printf("load=%s: '%s' is not a module name "
					       "(expected [A-Za-z0-9_-]{1,%d})",
					       val, *n, MH_NAME_MAX);
			return -EINVAL;
		}
	}
	g_strfreev(a->load);
	a->load = g_steal_pointer(&names);
	return 0;
}

/* Repeatable: one route per argument, kept parsed for hypercall.c. */
static int parse_route(struct mh_host_args *a, const char *val, char **err)
{
	struct mh_route_arg r = { 0 };
	g_autofree char *why = NULL;

	if (mh_route_parse(val, &r.magic, &r.module, &r.symbol, &why)) {
		*err = g_strdup_printf("route=%s: %s", val, why);
		return -EINVAL;
	}
	r.spec = g_strdup(val);
	a->routes = g_renew(struct mh_route_arg, a->routes, a->nroutes + 1);
	a->routes[a->nroutes++] = r;
	return 0;
}

static int parse_module_param(struct mh_host_args *a, const char *key,
			      const char *val, char **err)
{
	const char *dot = strchr(key, '.');
	GHashTable *mp;

	if (!mh_valid_module_name(key, dot - key) || !mh_valid_param_name(dot + 1)) {
		*err = g_strdup_printf("'%s=%s': expected MODULE.PARAM=VALUE with "
				       "MODULE in [A-Za-z0-9_-] and PARAM an "
				       "identifier", key, val);
		return -EINVAL;
	}
	g_autofree char *module = g_strndup(key, dot - key);
	mp = g_hash_table_lookup(a->params, module);
	if (!mp) {
		mp = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
		g_hash_table_insert(a->params, g_steal_pointer(&module), mp);
	}
	mh_param_add(mp, dot + 1, val);
	return 0;
}

int mh_args_parse(struct mh_host_args *a, int argc, char **argv,
		  const char *default_dir, char **err)
{
	memset(a, 0, sizeof(*a));
	a->watch = true;
	a->hook_timeout = MH_HOOK_TIMEOUT_DEFAULT;
	a->params = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  (GDestroyNotify)g_hash_table_unref);

	for (int i = 0; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		bool b;

		if (!eq || eq == argv[i]) {
			*err = g_strdup_printf("argument '%s': expected KEY=VALUE",
					       argv[i]);
			return -EINVAL;
		}
		g_autofree char *key = g_strndup(argv[i], eq - argv[i]);
		const char *val = eq + 1;

		if (!strcmp(key, "dir")) {
			if (!*val) {
				*err = g_strdup("dir=: expected a directory");
				return -EINVAL;
			}
			g_free(a->dir);
			a->dir = g_strdup(val);
		} else if (!strcmp(key, "load")) {
			if (parse_load_list(a, val, err))
				return -EINVAL;
		} else if (!strcmp(key, "watch")) {
			if (bool_parse(val, &b)) {
				*err = g_strdup_printf("watch=%s: expected on or off", val);
				return -EINVAL;
			}
			a->watch = b;
		} else if (!strcmp(key, "log")) {
			if (!*val) {
				*err = g_strdup("log=: expected a file name");
				return -EINVAL;
			}
			g_free(a->log);
			a->log = g_strdup(val);
		} else if (!strcmp(key, "ctl")) {
			if (!*val) {
				*err = g_strdup("ctl=: expected a socket path");
				return -EINVAL;
			}
			g_free(a->ctl);
			a->ctl = g_strdup(val);
		} else if (!strcmp(key, "accounting")) {
			if (bool_parse(val, &b)) {
				*err = g_strdup_printf("accounting=%s: expected on or "
						       "off", val);
				return -EINVAL;
			}
			a->accounting = b;
		} else if (!strcmp(key, "guest_control")) {
			if (bool_parse(val, &b)) {
				*err = g_strdup_printf("guest_control=%s: expected on "
						       "or off", val);
				return -EINVAL;
			}
			a->guest_control = b;
		} else if (!strcmp(key, "hook_timeout")) {
			guint64 secs;

			if (!g_ascii_string_to_unsigned(val, 10, 0,
							MH_HOOK_TIMEOUT_MAX,
							&secs, NULL)) {
				*err = g_strdup_printf("hook_timeout=%s: expected "
						       "whole seconds, 0 (no "
						       "bound) to %d", val,
						       MH_HOOK_TIMEOUT_MAX);
				return -EINVAL;
			}
			a->hook_timeout = secs;
		} else if (!strcmp(key, "quiesce")) {
			if (strcmp(val, "direct") && strcmp(val, "doorbell")) {
				*err = g_strdup_printf("quiesce=%s: expected direct "
						       "or doorbell", val);
				return -EINVAL;
			}
			a->doorbell = !strcmp(val, "doorbell");
		} else if (!strcmp(key, "route")) {
			if (parse_route(a, val, err))
				return -EINVAL;
		} else if (strchr(key, '.')) {
			if (parse_module_param(a, key, val, err))
				return -EINVAL;
		} else {
			*err = g_strdup_printf("unknown argument '%s' (expected dir=, "
					       "load=, watch=, log=, ctl=, "
					       "accounting=, guest_control=, "
					       "hook_timeout=, quiesce=, route= or "
					       "MODULE.PARAM=)",
					       argv[i]);
			return -EINVAL;
		}
	}
	if (!a->dir)
		a->dir = g_strdup(default_dir);
	return 0;
}

void mh_args_clear(struct mh_host_args *a)
{
	g_free(a->dir);
	g_strfreev(a->load);
	g_free(a->log);
	g_free(a->ctl);
	for (unsigned int i = 0; i < a->nroutes; i++) {
		g_free(a->routes[i].spec);
		g_free(a->routes[i].module);
		g_free(a->routes[i].symbol);
	}
	g_free(a->routes);
	if (a->params)
		g_hash_table_unref(a->params);
	memset(a, 0, sizeof(*a));
}
