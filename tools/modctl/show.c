// SPDX-License-Identifier: MIT
/*
 * modctl's text output: the control socket's JSON replies as tables (list,
 * stats, symbols, routes, like lsmod) or "key: value" lines (info, like
 * modinfo).  A member a reply lacks, or that is null, shows as "-": the
 * same modctl then works against a host that knows more or less.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "modctl.h"

/* -- reading members -------------------------------------------------- */

static JsonNode *member(JsonObject *o, const char *key)
{
	JsonNode *n = o ? json_object_get_member(o, key) : NULL;

	return n && !JSON_NODE_HOLDS_NULL(n) ? n : NULL;
}

static const char *str_of(JsonObject *o, const char *key)
{
	JsonNode *n = member(o, key);

	if (!n || json_node_get_value_type(n) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(n);
}

/* A member as text: strings as they are, numbers and booleans printed. */
static char *text_of(JsonObject *o, const char *key)
{
	JsonNode *n = member(o, key);

	if (!n || !JSON_NODE_HOLDS_VALUE(n))
		return g_strdup("-");
	switch (json_node_get_value_type(n)) {
	case G_TYPE_STRING:
		return g_strdup(*json_node_get_string(n) ?
				json_node_get_string(n) : "\"\"");
	case G_TYPE_INT64:
		return g_strdup_printf("%" G_GINT64_FORMAT, json_node_get_int(n));
	case G_TYPE_BOOLEAN:
		return g_strdup(json_node_get_boolean(n) ? "yes" : "no");
	case G_TYPE_DOUBLE:
		return g_strdup_printf("%g", json_node_get_double(n));
	default:
		return g_strdup("-");
	}
}

static int64_t int_of(JsonObject *o, const char *key, bool *present)
{
	JsonNode *n = member(o, key);

	*present = n && JSON_NODE_HOLDS_VALUE(n) &&
		   json_node_get_value_type(n) == G_TYPE_INT64;
	return *present ? json_node_get_int(n) : 0;
}

static JsonArray *array_of(JsonObject *o, const char *key)
{
	JsonNode *n = member(o, key);

	return n && JSON_NODE_HOLDS_ARRAY(n) ? json_node_get_array(n) : NULL;
}

/* An array of strings as "a,b", or "-" when empty. */
static char *names_of(JsonObject *o, const char *key)
{
	JsonArray *a = array_of(o, key);
	g_autoptr(GString) s = g_string_new(NULL);

	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonNode *n = json_array_get_element(a, i);

		if (json_node_get_value_type(n) != G_TYPE_STRING)
			continue;
		g_string_append_printf(s, "%s%s", s->len ? "," : "",
				       json_node_get_string(n));
	}
	return g_strdup(s->len ? s->str : "-");
}

/*
 * A module's state as a user reads it.  The host says "unformed" (the ABI's
 * name for not live) for a module it knows but that is not loaded now:
 * "unloaded" if it was loaded before, "not loaded" if never.
 */
static char *state_of(JsonObject *o)
{
	const char *state = str_of(o, "state");
	bool has;
	int64_t loads = int_of(o, "loads", &has);

	if (!state)
		return g_strdup("-");
	if (strcmp(state, "unformed"))
		return g_strdup(state);
	return g_strdup(loads > 0 ? "unloaded" : "not loaded");
}

/* -- tables ----------------------------------------------------------- */

/* Rows of cells (GStrv), the first the header; columns padded to fit. */
static void table_print(GPtrArray *rows)
{
	g_autofree guint *width = NULL;
	guint ncols = g_strv_length(g_ptr_array_index(rows, 0));

	width = g_new0(guint, ncols);
	for (guint r = 0; r < rows->len; r++) {
		char **row = g_ptr_array_index(rows, r);

		for (guint c = 0; c < ncols && row[c]; c++)
			width[c] = MAX(width[c], g_utf8_strlen(row[c], -1));
	}
	for (guint r = 0; r < rows->len; r++) {
		char **row = g_ptr_array_index(rows, r);
		g_autoptr(GString) line = g_string_new(NULL);

		for (guint c = 0; c < ncols && row[c]; c++) {
			g_string_append(line, row[c]);
			if (c + 1 < ncols)
				for (guint p = g_utf8_strlen(row[c], -1);
				     p < width[c] + 2; p++)
					g_string_append_c(line, ' ');
		}
		/* The last column is not padded; nor are trailing blanks kept. */
		while (line->len && line->str[line->len - 1] == ' ')
			g_string_truncate(line, line->len - 1);
		printf("%s\n", line->str);
	}
}

static GPtrArray *table_new(const char *const *header)
{
	GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);

	g_ptr_array_add(rows, g_strdupv((char **)header));
	return rows;
}

/* One row: each cell from @key of @o, through text_of(). */
static void table_add(GPtrArray *rows, JsonObject *o, const char *const *keys)
{
	guint n = g_strv_length((char **)keys);
	char **row = g_new0(char *, n + 1);

	for (guint i = 0; i < n; i++)
		row[i] = text_of(o, keys[i]);
	g_ptr_array_add(rows, row);
}

#define STRV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static void show_list(JsonObject *reply)
{
	g_autoptr(GPtrArray) rows = table_new(STRV("Module", "Version", "State",
						   "Used by", "Loads",
						   "Reloads", "Rollbacks"));
	JsonArray *mods = array_of(reply, "modules");

	for (guint i = 0; mods && i < json_array_get_length(mods); i++) {
		JsonObject *m = json_array_get_object_element(mods, i);
		char **row;

		table_add(rows, m, STRV("name", "version", "state", "used_by",
					"loads", "reloads", "rollbacks"));
		row = g_ptr_array_index(rows, rows->len - 1);
		g_free(row[2]);
		row[2] = state_of(m);
		g_free(row[3]);
		row[3] = names_of(m, "used_by");
	}
	table_print(rows);
}

static char *duration(int64_t ns)
{
	if (ns < 10000)
		return g_strdup_printf("%" PRId64 " ns", ns);
	if (ns < 10000000)
		return g_strdup_printf("%.1f us", ns / 1e3);
	if (ns < 10000000000)
		return g_strdup_printf("%.1f ms", ns / 1e6);
	return g_strdup_printf("%.2f s", ns / 1e9);
}

static void show_stats(JsonObject *reply)
{
	g_autoptr(GPtrArray) rows = table_new(STRV("Module", "State", "Loads",
						   "Reloads", "Rollbacks",
						   "Last pause", "Callbacks",
						   "Inline ops", "Hypercalls",
						   "Cb calls", "Cb time"));
	JsonArray *mods = array_of(reply, "modules");

	for (guint i = 0; mods && i < json_array_get_length(mods); i++) {
		JsonObject *m = json_array_get_object_element(mods, i);
		char **row;
		bool has;
		int64_t v;

		table_add(rows, m, STRV("name", "state", "loads", "reloads",
					"rollbacks", "last_pause_us", "callbacks",
					"inline_ops", "hypercalls", "cb_calls",
					"cb_ns"));
		row = g_ptr_array_index(rows, rows->len - 1);
		g_free(row[1]);
		row[1] = state_of(m);
		v = int_of(m, "last_pause_us", &has);
		if (has && v > 0) {
			g_free(row[5]);
			row[5] = g_strdup_printf("%" PRId64 " us", v);
		} else if (has) {
			g_free(row[5]);
			row[5] = g_strdup("-");	/* never changed in a pause */
		}
		v = int_of(m, "cb_ns", &has);
		if (has) {
			g_free(row[10]);
			row[10] = duration(v);
		}
	}
	table_print(rows);
	if (!member(reply, "accounting") ||
	    !json_object_get_boolean_member(reply, "accounting"))
		printf("(callback time is measured with the plugin argument "
		       "accounting=on)\n");
}

static void show_symbols(JsonObject *reply)
{
	g_autoptr(GPtrArray) rows = table_new(STRV("Symbol", "Kind",
						   "Signature", "Provider",
						   "Used by"));
	JsonArray *syms = array_of(reply, "symbols");

	for (guint i = 0; syms && i < json_array_get_length(syms); i++) {
		JsonObject *s = json_array_get_object_element(syms, i);
		char **row;

		table_add(rows, s, STRV("name", "kind", "signature", "provider",
					"users"));
		row = g_ptr_array_index(rows, rows->len - 1);
		g_free(row[4]);
		row[4] = names_of(s, "users");
	}
	table_print(rows);
}

static void show_routes(JsonObject *reply)
{
	g_autoptr(GPtrArray) rows = table_new(STRV("Magic", "Owner", "Handler",
						   "Enabled"));
	JsonArray *routes = array_of(reply, "routes");

	for (guint i = 0; routes && i < json_array_get_length(routes); i++) {
		JsonObject *r = json_array_get_object_element(routes, i);
		const char *kind = str_of(r, "kind");
		JsonNode *on = member(r, "enabled");
		char **row;

		table_add(rows, r, STRV("magic", "owner", "handler", "enabled"));
		row = g_ptr_array_index(rows, rows->len - 1);
		/* The guest-control magics are off unless the host allows. */
		if (on && !json_node_get_boolean(on) && kind &&
		    g_str_has_prefix(kind, "guest_control")) {
			g_free(row[3]);
			row[3] = g_strdup("no (guest_control=off)");
		}
	}
	table_print(rows);
}

/* -- info ------------------------------------------------------------- */

static void field(const char *key, const char *val)
{
	printf("%-13s%s\n", key, val);
}

static void field_of(JsonObject *o, const char *label, const char *key)
{
	g_autofree char *v = NULL;
	g_autofree char *l = g_strdup_printf("%s:", label);

	if (!member(o, key))
		return;
	v = text_of(o, key);
	field(l, v);
}

static void show_info(JsonObject *reply)
{
	JsonArray *a;

	field_of(reply, "name", "name");
	field_of(reply, "file", "file");
	field_of(reply, "version", "version");
	if (member(reply, "state")) {
		g_autofree char *state = state_of(reply);

		field("state:", state);
	}
	field_of(reply, "license", "license");
	field_of(reply, "description", "description");
	field_of(reply, "abi", "abi");
	if (member(reply, "abi_error"))
		field_of(reply, "abi error", "abi_error");
	a = array_of(reply, "depends");
	for (guint i = 0; a && i < json_array_get_length(a); i++)
		field("depends:", json_array_get_string_element(a, i));
	a = array_of(reply, "targets");
	for (guint i = 0; a && i < json_array_get_length(a); i++)
		field("target:", json_array_get_string_element(a, i));
	if (member(reply, "used_by")) {
		g_autofree char *u = names_of(reply, "used_by");

		field("used by:", u);
	}
	a = array_of(reply, "exports");
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *s = json_array_get_object_element(a, i);
		g_autofree char *v = g_strdup_printf("%s %s", str_of(s, "name"),
						     str_of(s, "signature"));

		field("export:", v);
	}
	a = array_of(reply, "imports");
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *s = json_array_get_object_element(a, i);
		g_autofree char *v = g_strdup_printf("%s.%s %s",
						     str_of(s, "module"),
						     str_of(s, "name"),
						     str_of(s, "signature"));

		field("import:", v);
	}
	a = array_of(reply, "params");
	for (guint i = 0; a && i < json_array_get_length(a); i++) {
		JsonObject *p = json_array_get_object_element(a, i);
		const char *value = str_of(p, "value"), *next = str_of(p, "next");
		g_autoptr(GString) v = g_string_new(NULL);

		/* modinfo's "parm:" line, with the values in force. */
		g_string_printf(v, "%s:%s (%s, default \"%s\")", str_of(p, "name"),
				str_of(p, "help"), str_of(p, "type"),
				str_of(p, "default"));
		if (value)
			g_string_append_printf(v, " value \"%s\"", value);
		if (next && (!value || strcmp(next, value)) &&
		    strcmp(next, str_of(p, "default")))
			g_string_append_printf(v, " next \"%s\"", next);
		field("parm:", v->str);
	}
	a = array_of(reply, "args");
	for (guint i = 0; a && i < json_array_get_length(a); i++)
		field("arg:", json_array_get_string_element(a, i));
	field_of(reply, "loads", "loads");
	field_of(reply, "reloads", "reloads");
	field_of(reply, "rollbacks", "rollbacks");
	if (member(reply, "tainted") &&
	    json_object_get_boolean_member(reply, "tainted"))
		field("tainted:", "yes (a hook crashed)");
}

/* -- requests --------------------------------------------------------- */

static void show_done(const char *cmd, JsonObject *reply)
{
	const char *name = str_of(reply, "module");
	const char *v = str_of(reply, "version");

	if (!strcmp(cmd, "load"))
		printf("%s: loaded version %s\n", name, v ? v : "-");
	else if (!strcmp(cmd, "reload"))
		printf("%s: reloaded %s -> %s\n", name,
		       str_of(reply, "old_version") ?: "-", v ? v : "-");
	else if (!strcmp(cmd, "unload"))
		printf("%s: unloaded version %s\n", name, v ? v : "-");
	else if (!strcmp(cmd, "route"))
		printf("%s -> %s%s\n", str_of(reply, "magic"),
		       str_of(reply, "route"),
		       json_object_get_boolean_member_with_default(reply, "live",
								   false) ?
		       "" : " (not loaded yet: calls fail until it is)");
	else if (!strcmp(cmd, "unroute"))
		printf("%s: route removed\n", str_of(reply, "magic"));
	else if (!strcmp(cmd, "param"))
		printf("%s.%s=%s: applies at the %s\n", name,
		       str_of(reply, "param"), str_of(reply, "value"),
		       str_of(reply, "applies") ?: "next load");
}

void show_reply(const char *cmd, JsonObject *reply)
{
	if (!strcmp(cmd, "list"))
		show_list(reply);
	else if (!strcmp(cmd, "stats"))
		show_stats(reply);
	else if (!strcmp(cmd, "symbols"))
		show_symbols(reply);
	else if (!strcmp(cmd, "routes"))
		show_routes(reply);
	else if (!strcmp(cmd, "info"))
		show_info(reply);
	else
		show_done(cmd, reply);
}
