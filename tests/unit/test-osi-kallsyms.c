// SPDX-License-Identifier: MIT
/*
 * Unit tests for the kallsyms reader (modules/lib/kernel_image.c):
 * tables laid out as scripts/kallsyms lays them out, with and without
 * kallsyms_seqs_of_names, among other bytes; the symbols wanted are found
 * at their addresses (relative and absolute per-CPU ones), every symbol is
 * listed in order with its type and address (kimage_kallsyms_each(), what
 * osi-profile --system-map writes), and bytes that hold no tables give -1,
 * not a guess.
 */
#include <stdbool.h>
#include <string.h>

#include <glib.h>

#include "kernel_image.h"
#include "unit.h"

#define NSYMS 700u
#define BASE 0xffffffff81000000ull

static void put(GByteArray *b, const void *p, size_t n)
{
	g_byte_array_append(b, p, (guint)n);
}

static void pad8(GByteArray *b)
{
	static const unsigned char z[8];

	if (b->len % 8)
		put(b, z, 8 - b->len % 8);
}

/* Token i: the character i where printable, else "~" and two hex digits. */
static void token(unsigned int i, char *out)
{
	if (i >= 0x21 && i < 0x7f)
		g_snprintf(out, 4, "%c", i);
	else
		g_snprintf(out, 4, "~%02x", i);
}

/*
 * Symbol i: "Tsym_NNN" at BASE + 16 i, but for two of them: "Dinit_task"
 * and "Dmodules", and an absolute per-CPU one, "Acurrent_task" at 0x1fb80.
 */
static void symbol(unsigned int i, char *name, size_t len, int32_t *off)
{
	uint64_t addr = BASE + 16ull * i;

	if (i == 400)
		g_snprintf(name, len, "Dinit_task");
	else if (i == 401)
		g_snprintf(name, len, "Dmodules");
	else
		g_snprintf(name, len, "Tsym_%03u", i);
	*off = (int32_t)(BASE - 1 - addr);
	if (i == 402) {
		g_snprintf(name, len, "Acurrent_task");
		*off = 0x1fb80;
	}
}

static GByteArray *tables(bool seqs)
{
	GByteArray *b = g_byte_array_new();
	GByteArray *names = g_byte_array_new();
	uint32_t markers[(NSYMS + 255) / 256];
	uint64_t v;
	uint16_t idx[256], at = 0;
	char junk[1000];

	memset(junk, 0x5a, sizeof(junk));
	put(b, junk, sizeof(junk));
	pad8(b);
	for (unsigned int i = 0; i < NSYMS; i++) {
		char name[32];
		int32_t off;

		symbol(i, name, sizeof(name), &off);
		put(b, &off, sizeof(off));
		if (i % 256 == 0)
			markers[i / 256] = names->len;
		g_byte_array_append(names, (guint8[]){ (guint8)strlen(name) }, 1);
		put(names, name, strlen(name));	/* token n is character n */
	}
	pad8(b);
	v = BASE;
	put(b, &v, 8);
	v = NSYMS;
	put(b, &v, 8);
	put(b, names->data, names->len);
	pad8(b);
	put(b, markers, sizeof(markers));
	pad8(b);
	if (seqs) {
		for (unsigned int i = 0; i < NSYMS * 3; i++)
			g_byte_array_append(b, (guint8[]){ (guint8)(i * 7) }, 1);
		pad8(b);
	}
	for (unsigned int i = 0; i < 256; i++) {
		char t[4];

		token(i, t);
		idx[i] = at;
		put(b, t, strlen(t) + 1);
		at += (uint16_t)(strlen(t) + 1);
	}
	pad8(b);
	put(b, idx, sizeof(idx));
	put(b, junk, 100);
	g_byte_array_free(names, TRUE);
	return b;
}

static const char *const wanted[] = { "init_task", "modules", "current_task",
				      "no_such_symbol", NULL };

static void check(bool seqs)
{
	GByteArray *b = tables(seqs);
	uint64_t addrs[4] = { 0 };

	g_assert_cmpint(kimage_kallsyms_find(b->data, b->len, wanted, addrs), ==, 3);
	g_assert_cmphex(addrs[0], ==, BASE + 16 * 400);
	g_assert_cmphex(addrs[1], ==, BASE + 16 * 401);
	g_assert_cmphex(addrs[2], ==, 0x1fb80);
	g_assert_cmphex(addrs[3], ==, 0);
	g_byte_array_free(b, TRUE);
}

static void test_seqs(void)
{
	check(true);
}

static void test_no_seqs(void)
{
	check(false);
}

struct seen {
	unsigned int n;
	bool ok;
};

static void each(char type, const char *name, uint64_t addr, void *opaque)
{
	struct seen *s = opaque;
	char want[32];
	int32_t off;

	symbol(s->n, want, sizeof(want), &off);
	s->ok = s->ok && type == want[0] && !strcmp(name, want + 1) &&
		addr == (off >= 0 ? (uint64_t)off : BASE - 1 - off);
	s->n++;
}

/* Every symbol, in the tables' order, with its type and address. */
static void test_each(void)
{
	GByteArray *b = tables(true);
	struct seen s = { 0, true };

	g_assert_cmpint(kimage_kallsyms_each(b->data, b->len, each, &s), ==, NSYMS);
	g_assert_cmpuint(s.n, ==, NSYMS);
	g_assert_true(s.ok);
	g_byte_array_free(b, TRUE);
}

static void test_none(void)
{
	unsigned char junk[65536];
	uint64_t addrs[4] = { 0 };

	for (unsigned int i = 0; i < sizeof(junk); i++)
		junk[i] = (unsigned char)(i * 2654435761u >> 13);
	g_assert_cmpint(kimage_kallsyms_find(junk, sizeof(junk), wanted, addrs), ==, -1);
	g_assert_cmpint(kimage_kallsyms_find(junk, 100, wanted, addrs), ==, -1);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/osi-kallsyms/with-seqs", test_seqs);
	g_test_add_func("/osi-kallsyms/without-seqs", test_no_seqs);
	g_test_add_func("/osi-kallsyms/each", test_each);
	g_test_add_func("/osi-kallsyms/none", test_none);
	return g_test_run();
}
