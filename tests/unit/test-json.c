// SPDX-License-Identifier: MIT
/*
 * host/json.c: whatever the bytes, the writer's output is valid UTF-8 JSON
 * that reads back as the text given, with what is not UTF-8 as U+FFFD.
 */
#include <glib.h>

#include "internal.h"
#include "unit.h"

/* mh_json_escape_len() of @len bytes of @in, as a new string. */
static char *esc(const char *in, size_t len)
{
	GString *out = g_string_new(NULL);

	mh_json_escape_len(out, in, len);
	g_assert_true(g_utf8_validate(out->str, out->len, NULL));
	return g_string_free(out, FALSE);
}

#define assert_esc(in, len, want)					\
	do {								\
		g_autofree char *got_ = esc((in), (len));		\
		g_assert_cmpstr(got_, ==, (want));			\
	} while (0)

static void test_plain(void)
{
	assert_esc("counter", 7, "\"counter\"");
	assert_esc("", 0, "\"\"");
	/* Valid UTF-8 is kept as it is. */
	assert_esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14,
		   "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
}

static void test_quotes_backslashes(void)
{
	assert_esc("a\"b\\c/", 6, "\"a\\\"b\\\\c/\"");
	assert_esc("\\\"", 2, "\"\\\\\\\"\"");
}

static void test_control(void)
{
	assert_esc("a\nb\tc\rd", 7, "\"a\\nb\\tc\\rd\"");
	assert_esc("\x01\x1f\x7f\x1b[0m", 7, "\"\\u0001\\u001f\\u007f\\u001b[0m\"");
}

static void test_invalid_utf8(void)
{
	/* The guest name that once reached the log raw. */
	assert_esc("f\x83\xe6?f\x81\xce\x80", 8,
		   "\"f\\ufffd\\ufffd?f\\ufffd\xce\x80\"");
	/* Truncated sequence at the end, lone continuation, overlong, 0xff. */
	assert_esc("ab\xe2\x82", 4, "\"ab\\ufffd\\ufffd\"");
	assert_esc("\x80", 1, "\"\\ufffd\"");
	assert_esc("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");
	assert_esc("x\xffy", 3, "\"x\\ufffdy\"");
	/* A UTF-16 surrogate encoded in UTF-8 is not UTF-8. */
	assert_esc("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	/* Invalid bytes next to characters that need escaping. */
	assert_esc("\xfe\"\xfe\n", 4, "\"\\ufffd\\\"\\ufffd\\n\"");
}

static void test_nul(void)
{
	assert_esc("ab\0cd", 5, "\"ab\\u0000cd\"");
	assert_esc("\0", 1, "\"\\u0000\"");
	/* mh_json_escape() stops at the NUL of a C string; NULL is "". */
	{
		g_autoptr(GString) o = g_string_new(NULL);

		mh_json_escape(o, "ab\0cd");
		mh_json_escape(o, NULL);
		g_assert_cmpstr(o->str, ==, "\"ab\"\"\"");
	}
}

/* Every byte value, alone and in pairs: the output is always valid. */
static void test_all_bytes(void)
{
	for (unsigned int a = 0; a < 256; a++) {
		for (unsigned int b = 0; b < 256; b++) {
			char in[2] = { (char)a, (char)b };
			g_autofree char *out = esc(in, 2);

			g_assert_true(out[0] == '"');
		}
	}
}

static void test_builder(void)
{
	g_autoptr(GString) j = g_string_new(NULL);

	mh_json_obj_begin(j);
	mh_json_kv_bool(j, "ok", true);
	mh_json_kv_str(j, "name", "m\xff");
	mh_json_kv_str(j, "none", NULL);
	mh_json_kv_int(j, "neg", -5);
	mh_json_kv_uint(j, "big", UINT64_MAX);
	mh_json_key(j, "list");
	mh_json_arr_begin(j);
	mh_json_str(j, "a");
	mh_json_obj_begin(j);
	mh_json_kv_bool(j, "f", false);
	mh_json_obj_end(j);
	mh_json_arr_begin(j);
	mh_json_arr_end(j);
	mh_json_strn(j, "x\0y", 3);
	mh_json_null(j);
	mh_json_arr_end(j);
	mh_json_key(j, "empty");
	mh_json_obj_begin(j);
	mh_json_obj_end(j);
	mh_json_obj_end(j);
	g_assert_cmpstr(j->str, ==,
			"{\"ok\":true,\"name\":\"m\\ufffd\",\"none\":null,"
			"\"neg\":-5,\"big\":18446744073709551615,"
			"\"list\":[\"a\",{\"f\":false},[],\"x\\u0000y\",null],"
			"\"empty\":{}}");
}

/* A second line in the same buffer starts without a comma. */
static void test_second_line(void)
{
	g_autoptr(GString) j = g_string_new(NULL);

	for (int i = 0; i < 2; i++) {
		mh_json_obj_begin(j);
		mh_json_kv_int(j, "i", i);
		mh_json_obj_end(j);
		g_string_append_c(j, '\n');
	}
	g_assert_cmpstr(j->str, ==, "{\"i\":0}\n{\"i\":1}\n");
}

/* Keys go through the same escaper. */
static void test_key_escaped(void)
{
	g_autoptr(GString) j = g_string_new(NULL);

	mh_json_obj_begin(j);
	mh_json_kv_int(j, "k\"\x80", 1);
	mh_json_obj_end(j);
	g_assert_cmpstr(j->str, ==, "{\"k\\\"\\ufffd\":1}");
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/json/plain", test_plain);
	g_test_add_func("/json/quotes-backslashes", test_quotes_backslashes);
	g_test_add_func("/json/control", test_control);
	g_test_add_func("/json/invalid-utf8", test_invalid_utf8);
	g_test_add_func("/json/nul", test_nul);
	g_test_add_func("/json/all-bytes", test_all_bytes);
	g_test_add_func("/json/builder", test_builder);
	g_test_add_func("/json/key-escaped", test_key_escaped);
	g_test_add_func("/json/second-line", test_second_line);
	return g_test_run();
}
