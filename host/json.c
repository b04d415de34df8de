// SPDX-License-Identifier: MIT
/*
 * The host's one JSON writer: event log lines, control-socket replies and
 * the registry's and routes' descriptions are all built with it.
 *
 * Whatever the input, the output is valid UTF-8 JSON.  Strings come from
 * module metadata, file names and the guest, none of which promises
 * UTF-8: a byte that does not start a valid UTF-8 sequence is written as
 * U+FFFD, control characters (and DEL) as escapes, an embedded NUL (only
 * possible with a length) as \u0000.
 *
 * The writer appends to a GString and needs no state of its own: a comma is
 * due before a value or key exactly when the text so far ends in a value.  So a caller can build nested objects and arrays from small
 * helpers without threading a "first" flag through them.
 */
#include <inttypes.h>
#include <string.h>

#include "internal.h"

static void escape_valid(GString *out, const char *s, const char *end)
{
	for (; s < end; s++) {
		unsigned char c = *s;

		switch (c) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			/* Bytes >= 0x80 here belong to a validated sequence. */
			if (c < 0x20 || c == 0x7f)
				g_string_append_printf(out, "\\u%04x", c);
			else
				g_string_append_c(out, c);
		}
	}
}

void mh_json_escape_len(GString *out, const char *s, size_t len)
{
	const char *end = s + len;

	g_string_append_c(out, '"');
	while (s < end) {
		const char *valid_end;

		/* Stops at the first invalid byte or NUL. */
		g_utf8_validate_len(s, end - s, &valid_end);
		escape_valid(out, s, valid_end);
		s = valid_end;
		if (s == end)
			break;
		g_string_append(out, *s ? "\\ufffd" : "\\u0000");
		s++;
	}
	g_string_append_c(out, '"');
}

void mh_json_escape(GString *out, const char *s)
{
	mh_json_escape_len(out, s ? s : "", s ? strlen(s) : 0);
}

/*
 * A comma if the text so far ends in a value: a string, a number, true,
 * false, null, an object or an array.  Not after "{", "[", a key's ":",
 * nor at the start of a line (a GString may hold several replies).
 */
static void sep(GString *j)
{
	char last = j->len ? j->str[j->len - 1] : '\0';

	if (last && strchr("\"}]0123456789el", last))
		g_string_append_c(j, ',');
}

void mh_json_obj_begin(GString *j)
{
	sep(j);
	g_string_append_c(j, '{');
}

void mh_json_obj_end(GString *j)
{
	g_string_append_c(j, '}');
}

void mh_json_arr_begin(GString *j)
{
	sep(j);
	g_string_append_c(j, '[');
}

void mh_json_arr_end(GString *j)
{
	g_string_append_c(j, ']');
}

void mh_json_key(GString *j, const char *key)
{
	sep(j);
	mh_json_escape(j, key);
	g_string_append_c(j, ':');
}

void mh_json_str(GString *j, const char *s)
{
	sep(j);
	if (s)
		mh_json_escape(j, s);
	else
		g_string_append(j, "null");
}

void mh_json_strn(GString *j, const char *s, size_t len)
{
	sep(j);
	mh_json_escape_len(j, s, len);
}

void mh_json_int(GString *j, int64_t v)
{
	sep(j);
	g_string_append_printf(j, "%" PRId64, v);
}

void mh_json_uint(GString *j, uint64_t v)
{
	sep(j);
	g_string_append_printf(j, "%" PRIu64, v);
}

void mh_json_bool(GString *j, bool v)
{
	sep(j);
	g_string_append(j, v ? "true" : "false");
}

void mh_json_null(GString *j)
{
	sep(j);
	g_string_append(j, "null");
}

void mh_json_kv_str(GString *j, const char *key, const char *val)
{
	mh_json_key(j, key);
	mh_json_str(j, val);
}

void mh_json_kv_int(GString *j, const char *key, int64_t val)
{
	mh_json_key(j, key);
	mh_json_int(j, val);
}

void mh_json_kv_uint(GString *j, const char *key, uint64_t val)
{
	mh_json_key(j, key);
	mh_json_uint(j, val);
}

void mh_json_kv_bool(GString *j, const char *key, bool val)
{
	mh_json_key(j, key);
	mh_json_bool(j, val);
}
