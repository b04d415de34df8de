// SPDX-License-Identifier: MIT
/*
 * Unit tests for signature strings (host/signature.c): the type language
 * of exports, imports, PPP points and hypercall routes, and the libffi
 * calls built from it; and the export= and import= metadata entries that
 * carry them (host/loader.c).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>

#include "internal.h"
#include "unit.h"

static void test_valid(void)
{
	static const struct {
		const char *s;
		enum mh_type ret;
		unsigned int nargs;
		enum mh_type args[4];
	} cases[] = {
		{ "v()", MH_T_VOID, 0, { 0 } },
		{ "u32(p,u32,p)", MH_T_U32, 3, { MH_T_PTR, MH_T_U32, MH_T_PTR } },
		{ "i8(i16,i32,i64)", MH_T_I8, 3, { MH_T_I16, MH_T_I32, MH_T_I64 } },
		{ "u64(u8,u16,b)", MH_T_U64, 3, { MH_T_U8, MH_T_U16, MH_T_BOOL } },
		{ "v(g,s)", MH_T_VOID, 2, { MH_T_GADDR, MH_T_STR } },
		{ "p(p)", MH_T_PTR, 1, { MH_T_PTR } },
		{ "b()", MH_T_BOOL, 0, { 0 } },
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(cases); i++) {
		struct mh_sig sig;
		g_autofree char *err = NULL;

		g_assert_cmpint(mh_sig_parse(cases[i].s, &sig, &err), ==, 0);
		g_assert_null(err);
		g_assert_cmpint(sig.ret, ==, cases[i].ret);
		g_assert_cmpuint(sig.nargs, ==, cases[i].nargs);
		for (unsigned int a = 0; a < sig.nargs; a++)
			g_assert_cmpint(sig.args[a], ==, cases[i].args[a]);
		g_assert_true(mh_sig_valid(cases[i].s));
	}
}

static void test_sixteen_args(void)
{
	g_autoptr(GString) s = g_string_new("v(");
	struct mh_sig sig;
	g_autofree char *err = NULL;

	for (int i = 0; i < MH_SIG_MAX_ARGS; i++)
		g_string_append(s, i ? ",u64" : "u64");
	g_string_append(s, ")");
	g_assert_cmpint(mh_sig_parse(s->str, &sig, &err), ==, 0);
	g_assert_cmpuint(sig.nargs, ==, MH_SIG_MAX_ARGS);

	g_string_insert(s, 2, "u8,");
	g_assert_cmpint(mh_sig_parse(s->str, &sig, &err), ==, -E2BIG);
	assert_error(err, STRV("more than 16 arguments"));
}

static void test_invalid(void)
{
	static const char *const bad[] = {
		"", "v", "v(", "v)", "()", "u32", "u32(", "u32(p", "u32(p,)",
		"u32(,p)", "u32(p,,p)", "u32(p) ", " u32(p)", "u32( p)",
		"u32(v)", "u32(p,v)", "x()", "u31()", "u(p)", "i128()",
		"u32(pp)", "u32(p)x", "u32(p))", "v()()", "V()", "U32()",
		"u8u8()", "p(u644)",
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct mh_sig sig;
		g_autofree char *err = NULL;

		g_test_message("'%s'", bad[i]);
		g_assert_cmpint(mh_sig_parse(bad[i], &sig, &err), ==, -EINVAL);
		assert_contains(err, "is not RET(TYPE,...)");
		g_assert_false(mh_sig_valid(bad[i]));
	}
}

static void test_too_long(void)
{
	g_autoptr(GString) s = g_string_new("v(p");
	struct mh_sig sig;
	g_autofree char *err = NULL;

	while (s->len <= MH_SIG_MAX_LEN)
		g_string_append(s, ",p");
	g_string_append(s, ")");
	g_assert_cmpint(mh_sig_parse(s->str, &sig, &err), <, 0);
	g_assert_nonnull(err);
	g_assert_cmpint(mh_sig_parse(NULL, &sig, &err), ==, -EINVAL);
}

/* -- export= and import= entries in metadata --------------------------- */

static int parse_entries(const char *const *entries, struct mh_meta **m,
			 char **err)
{
	g_autoptr(GByteArray) b = g_byte_array_new();
	static const char *const head[] = { "abi=1.0", "name=m", "version=1" };

	for (unsigned int i = 0; i < G_N_ELEMENTS(head); i++)
		g_byte_array_append(b, (const guint8 *)head[i], strlen(head[i]) + 1);
	for (; *entries; entries++)
		g_byte_array_append(b, (const guint8 *)*entries, strlen(*entries) + 1);
	return mh_meta_parse(b->data, b->len, m, err);
}

static void test_meta_symbols(void)
{
	struct mh_meta *m = NULL;
	g_autofree char *err = NULL;
	g_autoptr(GPtrArray) req = NULL;
	const struct mh_meta_sym *s;

	g_assert_cmpint(parse_entries(STRV("export=get_callers:u32(p,u32,p)",
					   "import=callstack_instr.get_callers:u32(p,u32,p)",
					   "import=dwarfp.lookup:i32(g,p)",
					   "depends=base",
					   "import=callstack_instr.get_functions:u32(p,u32,p)"),
				    &m, &err), ==, 0);
	g_assert_cmpuint(m->exports->len, ==, 1);
	s = g_ptr_array_index(m->exports, 0);
	g_assert_null(s->module);
	g_assert_cmpstr(s->name, ==, "get_callers");
	g_assert_cmpstr(s->sig, ==, "u32(p,u32,p)");
	g_assert_cmpuint(m->imports->len, ==, 3);
	s = g_ptr_array_index(m->imports, 1);
	g_assert_cmpstr(s->module, ==, "dwarfp");
	g_assert_cmpstr(s->name, ==, "lookup");
	g_assert_cmpstr(s->sig, ==, "i32(g,p)");

	/* depends first, then each provider once, in order */
	req = mh_meta_requires(m);
	g_assert_cmpuint(req->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(req, 0), ==, "base");
	g_assert_cmpstr(g_ptr_array_index(req, 1), ==, "callstack_instr");
	g_assert_cmpstr(g_ptr_array_index(req, 2), ==, "dwarfp");
	mh_meta_free(m);
}

static void test_meta_symbols_refused(void)
{
	static const struct {
		const char *entry, *needle;
	} bad[] = {
		{ "export=f", "is not NAME:SIGNATURE" },
		{ "export=f:u32", "is not RET(TYPE,...)" },
		{ "export=1f:v()", "C identifier" },
		{ "export=a.b:v()", "C identifier" },
		{ "import=f:v()", "MODULE.NAME" },
		{ "import=m/x.f:v()", "MODULE.NAME" },
		{ "import=m.f:u32(q)", "is not RET(TYPE,...)" },
		{ "import=m.:v()", "C identifier" },
	};

	for (unsigned int i = 0; i < G_N_ELEMENTS(bad); i++) {
		struct mh_meta *m = NULL;
		g_autofree char *err = NULL;

		g_test_message("%s", bad[i].entry);
		g_assert_cmpint(parse_entries(STRV(bad[i].entry), &m, &err), ==,
				-EINVAL);
		assert_contains(err, bad[i].needle);
		g_assert_null(m);
	}
}

static void test_meta_symbols_twice(void)
{
	struct mh_meta *m = NULL;
	g_autofree char *err = NULL;

	g_assert_cmpint(parse_entries(STRV("export=f:v()", "export=f:u8()"),
				      &m, &err), ==, -EINVAL);
	assert_error(err, STRV("export 'f' given twice"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(parse_entries(STRV("import=a.f:v()", "import=a.f:v()"),
				      &m, &err), ==, -EINVAL);
	assert_error(err, STRV("import 'a.f' given twice"));
	g_clear_pointer(&err, g_free);
	/* the same name from two providers is two imports */
	g_assert_cmpint(parse_entries(STRV("import=a.f:v()", "import=b.f:v()"),
				      &m, &err), ==, 0);
	mh_meta_free(m);
}

/* Each type is passed as a libffi type of the C type's size. */
static void test_ffi_types(void)
{
	static const struct {
		enum mh_type t;
		size_t size;
		bool is_signed;
	} cases[] = {
		{ MH_T_I8, 1, true }, { MH_T_I16, 2, true }, { MH_T_I32, 4, true },
		{ MH_T_I64, 8, true }, { MH_T_U8, 1, false }, { MH_T_U16, 2, false },
		{ MH_T_U32, 4, false }, { MH_T_U64, 8, false },
		{ MH_T_BOOL, sizeof(bool), false }, { MH_T_GADDR, 8, false },
		{ MH_T_PTR, sizeof(void *), false }, { MH_T_STR, sizeof(char *), false },
	};

	g_assert_true(mh_sig_ffi_type(MH_T_VOID) == &ffi_type_void);
	for (unsigned int i = 0; i < G_N_ELEMENTS(cases); i++) {
		ffi_type *f = mh_sig_ffi_type(cases[i].t);

		g_assert_cmpuint(f->size, ==, cases[i].size);
		g_assert_true((f == &ffi_type_sint8 || f == &ffi_type_sint16 ||
			       f == &ffi_type_sint32 || f == &ffi_type_sint64) ==
			      cases[i].is_signed);
	}
	g_assert_true(mh_sig_ffi_type(MH_T_PTR) == &ffi_type_pointer);
	g_assert_true(mh_sig_ffi_type(MH_T_STR) == &ffi_type_pointer);
}

static int64_t ffi_target(int8_t a, uint16_t b, bool c, const char *d,
			  uint64_t e)
{
	return a * 1000000 + b * 10 + c + (int64_t)strlen(d) * 100 +
	       (int64_t)(e >> 40);
}

/* A prepared signature calls a function of that C type correctly. */
static void test_ffi_prep_call(void)
{
	struct mh_sig_ffi f;
	g_autofree char *err = NULL;
	int8_t a = -3;
	uint16_t b = 7;
	bool c = true;
	const char *d = "four";
	uint64_t e = 5ull << 40;
	void *values[] = { &a, &b, &c, &d, &e };
	ffi_sarg ret = 0;

	g_assert_cmpint(mh_sig_ffi_prep(&f, "i64(i8,u16,b,s,g)", &err), ==, 0);
	g_assert_null(err);
	g_assert_cmpint(f.sig.ret, ==, MH_T_I64);
	g_assert_cmpuint(f.sig.nargs, ==, 5);
	g_assert_cmpuint(f.cif.nargs, ==, 5);
	g_assert_true(f.cif.rtype == &ffi_type_sint64);
	g_assert_true(f.cif.arg_types == f.args);
	ffi_call(&f.cif, FFI_FN(ffi_target), &ret, values);
	g_assert_cmpint(ret, ==, -3000000 + 70 + 1 + 400 + 5);
}

static void test_ffi_prep_refused(void)
{
	struct mh_sig_ffi f;
	g_autofree char *err = NULL, *err2 = NULL;

	g_assert_cmpint(mh_sig_ffi_prep(&f, "u32(x)", &err), ==, -EINVAL);
	g_assert_nonnull(strstr(err, "signature 'u32(x)' is not RET(TYPE,...)"));
	g_assert_cmpint(mh_sig_ffi_prep(&f, "v(u8,u8,u8,u8,u8,u8,u8,u8,u8,u8,"
					"u8,u8,u8,u8,u8,u8,u8)", &err2), ==, -E2BIG);
	g_assert_nonnull(err2);
}

int main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/signature/valid", test_valid);
	g_test_add_func("/signature/sixteen-args", test_sixteen_args);
	g_test_add_func("/signature/invalid", test_invalid);
	g_test_add_func("/signature/too-long", test_too_long);
	g_test_add_func("/signature/meta/symbols", test_meta_symbols);
	g_test_add_func("/signature/meta/refused", test_meta_symbols_refused);
	g_test_add_func("/signature/meta/twice", test_meta_symbols_twice);
	g_test_add_func("/signature/ffi/types", test_ffi_types);
	g_test_add_func("/signature/ffi/prep-call", test_ffi_prep_call);
	g_test_add_func("/signature/ffi/refused", test_ffi_prep_refused);
	return g_test_run();
}
