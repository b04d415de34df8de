// SPDX-License-Identifier: MIT
/*
 * Unit tests for module metadata (host/loader.c), without QEMU:
 *  - mh_meta_parse() on hand-built ".modhost" blobs (NUL-terminated
 *    "key=value" strings, possibly padded with extra NULs);
 *  - mh_meta_check_abi();
 *  - mh_meta_read() on the test modules built by `make` under
 *    $MODHOST_BUILD/tests/modules ($MODHOST_BUILD defaults to "build",
 *    relative to the project root the tests run from), on damaged copies of
 *    them and on files that are no module at all.
 * A test whose build file is missing is skipped, saying which.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "internal.h"
#include "unit.h"

#define ABI_STR MH_STRINGIFY(MODHOST_ABI_MAJOR) "." \
	MH_STRINGIFY(MODHOST_ABI_MINOR)
/* The entries every valid blob needs. */
#define HEADER "abi=" ABI_STR, "name=mod", "version=1"

#define COUNTER_V1 "tests/modules/counter-v1.so"

#define SECTION_MAX (1u << 20)
#define DEPENDS_MAX 64
#define PARAMS_MAX 256

/* For g_autoptr(), which needs a one-word type name. */
typedef struct mh_meta mh_meta_t;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(mh_meta_t, mh_meta_free)

static char *tmpdir;

/* -- helpers ----------------------------------------------------------- */

/* Append @entry and its NUL to @b; "" appends a lone NUL (padding). */
static void blob_add(GByteArray *b, const char *entry)
{
	g_byte_array_append(b, (const guint8 *)entry, strlen(entry) + 1);
}

static void G_GNUC_PRINTF(2, 3) blob_addf(GByteArray *b, const char *fmt, ...)
{
	g_autofree char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	s = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	blob_add(b, s);
}

/* Pad @b with NULs up to @size bytes. */
static void blob_pad(GByteArray *b, guint size)
{
	guint old = b->len;

	g_byte_array_set_size(b, size);
	memset(b->data + old, 0, size - old);
}

/* A blob of the NULL-terminated @entries. */
static GByteArray *blob_new(const char *const *entries)
{
	GByteArray *b = g_byte_array_new();

	for (; entries && *entries; entries++)
		blob_add(b, *entries);
	return b;
}

static struct mh_meta *parse_ok(const void *data, size_t len)
{
	struct mh_meta *m = NULL;
	g_autofree char *err = NULL;
	int ret = mh_meta_parse(data, len, &m, &err);

	if (ret)
		g_test_message("mh_meta_parse: %s", err);
	g_assert_cmpint(ret, ==, 0);
	g_assert_null(err);
	g_assert_nonnull(m);
	return m;
}

/* Parse @len bytes at @data: refused with @ret, the message naming @needles. */
static void parse_refused(const void *data, size_t len, int ret,
			  const char *const *needles)
{
	struct mh_meta *m = NULL;
	g_autofree char *err = NULL;
	int got = mh_meta_parse(data, len, &m, &err);

	g_test_message("mh_meta_parse: %s", err ? err : "(no message)");
	g_assert_cmpint(got, ==, ret);
	g_assert_null(m);
	assert_error(err, needles);
}

static void assert_param(const struct mh_param_decl *d, const char *name,
			 enum mh_ptype type, const char *def, const char *help)
{
	g_assert_nonnull(d);
	g_assert_cmpstr(d->name, ==, name);
	g_assert_cmpint(d->type, ==, type);
	g_assert_cmpstr(d->def, ==, def);
	g_assert_cmpstr(d->help, ==, help);
}

static const char *build_dir(void)
{
	const char *d = g_getenv("MODHOST_BUILD");

	return d && *d ? d : "build";
}

/* $MODHOST_BUILD/@rel, or NULL (and the test skipped) if it is missing. */
static char *build_file(const char *rel)
{
	char *path = g_build_filename(build_dir(), rel, NULL);
	g_autofree char *why = NULL;

	if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
		return path;
	why = g_strdup_printf("%s not found: run make in the project root "
			      "first, or set MODHOST_BUILD", path);
	g_test_skip(why);
	g_free(path);
	return NULL;
}

/* The contents of $MODHOST_BUILD/@rel, or NULL with the test skipped. */
static guint8 *build_file_contents(const char *rel, gsize *len)
{
	g_autofree char *path = build_file(rel);
	GError *gerr = NULL;
	char *data;

	if (!path)
		return NULL;
	if (!g_file_get_contents(path, &data, len, &gerr))
		g_error("%s: %s", path, gerr->message);
	return (guint8 *)data;
}

/* Write @len bytes of @data to @name in the scratch directory. */
static char *write_tmp(const char *name, const void *data, gsize len)
{
	char *path = g_build_filename(tmpdir, name, NULL);
	GError *gerr = NULL;

	if (!g_file_set_contents(path, data, len, &gerr))
		g_error("%s: %s", path, gerr->message);
	return path;
}

static struct mh_meta *read_ok(const char *path)
{
	struct mh_meta *m = NULL;
	g_autofree char *err = NULL;
	int ret = mh_meta_read(path, &m, &err);

	if (ret)
		g_test_message("mh_meta_read(%s): %s", path, err);
	g_assert_cmpint(ret, ==, 0);
	g_assert_null(err);
	g_assert_nonnull(m);
	return m;
}

/* mh_meta_read(@path): refused with @ret (any if 0), naming @needles. */
static void read_refused(const char *path, int ret, const char *const *needles)
{
	struct mh_meta *m = NULL;
	g_autofree char *err = NULL;
	int got = mh_meta_read(path, &m, &err);

	g_test_message("mh_meta_read(%s): %d %s", path, got,
		       err ? err : "(no message)");
	if (ret)
		g_assert_cmpint(got, ==, ret);
	else
		g_assert_cmpint(got, <, 0);
	g_assert_null(m);
	assert_error(err, needles);
}

/* The ".modhost" section header of a 64-bit ELF image. */
static Elf64_Shdr *modhost_shdr(guint8 *img, gsize len)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)img;
	Elf64_Shdr *sh, *names;

	g_assert_cmpuint(len, >=, sizeof(*eh));
	g_assert_cmpuint(eh->e_shoff + eh->e_shnum * sizeof(*sh), <=, len);
	sh = (Elf64_Shdr *)(img + eh->e_shoff);
	names = &sh[eh->e_shstrndx];
	for (unsigned int i = 0; i < eh->e_shnum; i++) {
		if (!strcmp((char *)img + names->sh_offset + sh[i].sh_name,
			    MH_SECTION))
			return &sh[i];
	}
	g_assert_not_reached();
	return NULL;
}

/* -- mh_meta_parse: accepted blobs -------------------------------------- */

static void test_parse_valid(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(
		"abi=" ABI_STR, "name=my-mod_2", "version=1.2-rc3",
		"license=MIT", "description=does: things = well",
		"depends=base", "depends=other-mod_2",
		"param=verbose:bool:print more", "paramdefault=verbose:off",
		"param=count:uint:how many: at most 10",
		"paramdefault=count:0x10",
		"param=label:str:a label", "paramdefault=label:a=b:c"));
	g_autoptr(mh_meta_t) m = parse_ok(b->data, b->len);

	g_assert_cmpuint(m->abi_major, ==, MODHOST_ABI_MAJOR);
	g_assert_cmpuint(m->abi_minor, ==, MODHOST_ABI_MINOR);
	g_assert_cmpstr(m->name, ==, "my-mod_2");
	g_assert_cmpstr(m->version, ==, "1.2-rc3");
	g_assert_cmpstr(m->license, ==, "MIT");
	g_assert_cmpstr(m->description, ==, "does: things = well");
	g_assert_cmpuint(m->depends->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(m->depends, 0), ==, "base");
	g_assert_cmpstr(g_ptr_array_index(m->depends, 1), ==, "other-mod_2");
	g_assert_cmpuint(m->params->len, ==, 3);
	assert_param(g_ptr_array_index(m->params, 0), "verbose", MH_PT_BOOL,
		     "off", "print more");
	assert_param(g_ptr_array_index(m->params, 1), "count", MH_PT_UINT,
		     "0x10", "how many: at most 10");
	assert_param(g_ptr_array_index(m->params, 2), "label", MH_PT_STR,
		     "a=b:c", "a label");
	g_assert_true(mh_meta_param(m, "count") ==
		      g_ptr_array_index(m->params, 1));
	g_assert_null(mh_meta_param(m, "nope"));
}

static void test_parse_minimal(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(HEADER));
	g_autoptr(mh_meta_t) m = parse_ok(b->data, b->len);

	g_assert_cmpstr(m->name, ==, "mod");
	g_assert_cmpstr(m->version, ==, "1");
	g_assert_null(m->license);
	g_assert_null(m->description);
	g_assert_nonnull(m->depends);
	g_assert_cmpuint(m->depends->len, ==, 0);
	g_assert_nonnull(m->params);
	g_assert_cmpuint(m->params->len, ==, 0);
}

/*
 * targets=: the QEMU targets a module serves, checked before any of its
 * code runs; without the key a module serves every target.
 */
static void test_targets(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(HEADER, "targets=x86_64,i386"));
	g_autoptr(GByteArray) all = blob_new(STRV(HEADER));
	g_autoptr(mh_meta_t) m = parse_ok(b->data, b->len);
	g_autoptr(mh_meta_t) a = parse_ok(all->data, all->len);
	g_autofree char *err = NULL;

	g_assert_cmpuint(g_strv_length(m->targets), ==, 2);
	g_assert_cmpstr(m->targets[1], ==, "i386");
	g_assert_null(a->targets);
	mh_loader_set_target("i386");
	g_assert_cmpint(mh_meta_check_target(m, &err), ==, 0);
	mh_loader_set_target("aarch64");
	g_assert_cmpint(mh_meta_check_target(m, &err), ==, -ENOEXEC);
	g_assert_cmpstr(err, ==, "serves targets x86_64,i386, not this QEMU's "
			"target aarch64");
	g_assert_cmpint(mh_meta_check_target(a, NULL), ==, 0);
	mh_loader_set_target(NULL);
}

static void test_parse_padding(void)
{
	/* "" is an extra NUL: before, between and after the entries. */
	g_autoptr(GByteArray) b = blob_new(STRV(
		"", "", "abi=" ABI_STR, "", "", "", "name=mod", "",
		"version=7", "", "", "", "", "", "", "",
		"param=p:str:help", "paramdefault=p:x", "", ""));
	g_autoptr(mh_meta_t) m = parse_ok(b->data, b->len);

	g_assert_cmpuint(m->abi_major, ==, MODHOST_ABI_MAJOR);
	g_assert_cmpuint(m->abi_minor, ==, MODHOST_ABI_MINOR);
	g_assert_cmpstr(m->name, ==, "mod");
	g_assert_cmpstr(m->version, ==, "7");
	g_assert_cmpuint(m->params->len, ==, 1);
	assert_param(g_ptr_array_index(m->params, 0), "p", MH_PT_STR, "x",
		     "help");
}

static void test_parse_default_first(void)
{
	/* The order the compiler emits MH_PARAM_*() in (reversed). */
	g_autoptr(GByteArray) b = blob_new(STRV(
		"paramdefault=b:1", "paramdefault=a:yes", HEADER,
		"param=b:uint:second", "param=a:bool:first"));
	g_autoptr(mh_meta_t) m = parse_ok(b->data, b->len);

	g_assert_cmpuint(m->params->len, ==, 2);
	assert_param(g_ptr_array_index(m->params, 0), "b", MH_PT_UINT, "1",
		     "second");
	assert_param(g_ptr_array_index(m->params, 1), "a", MH_PT_BOOL, "yes",
		     "first");
}

static void test_parse_unknown_keys(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(
		"future=thing", HEADER, "x-later=1", "=empty key",
		"author=someone"));
	g_autoptr(mh_meta_t) m = parse_ok(b->data, b->len);

	g_assert_cmpstr(m->name, ==, "mod");
	g_assert_cmpstr(m->version, ==, "1");
	g_assert_null(m->license);
	g_assert_null(m->description);
	g_assert_cmpuint(m->depends->len, ==, 0);
	g_assert_cmpuint(m->params->len, ==, 0);
}

static void test_parse_param_int(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(
		HEADER, "param=i:int:signed", "paramdefault=i:-5",
		"param=h:int:hex", "paramdefault=h:0x10"));
	g_autoptr(mh_meta_t) m = NULL;

	m = parse_ok(b->data, b->len);
	assert_param(mh_meta_param(m, "i"), "i", MH_PT_INT, "-5", "signed");
	assert_param(mh_meta_param(m, "h"), "h", MH_PT_INT, "0x10", "hex");
}

static void test_parse_name_max(void)
{
	g_autofree char *name = g_strnfill(MH_NAME_MAX, 'n');
	g_autoptr(GByteArray) b = blob_new(STRV("abi=" ABI_STR, "version=1"));
	g_autoptr(mh_meta_t) m = NULL;

	blob_addf(b, "name=%s", name);
	m = parse_ok(b->data, b->len);
	g_assert_cmpstr(m->name, ==, name);
}

static void test_parse_depends_max(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(HEADER));
	g_autoptr(mh_meta_t) m = NULL;

	for (unsigned int i = 0; i < DEPENDS_MAX; i++)
		blob_addf(b, "depends=dep%u", i);
	m = parse_ok(b->data, b->len);
	g_assert_cmpuint(m->depends->len, ==, DEPENDS_MAX);
	g_assert_cmpstr(g_ptr_array_index(m->depends, DEPENDS_MAX - 1), ==,
			"dep63");
}

/* @n params p0..p{n-1}, each with a default. */
static GByteArray *blob_with_params(unsigned int n)
{
	GByteArray *b = blob_new(STRV(HEADER));

	for (unsigned int i = 0; i < n; i++) {
		blob_addf(b, "param=p%u:uint:help %u", i, i);
		blob_addf(b, "paramdefault=p%u:%u", i, i);
	}
	return b;
}

static void test_parse_params_max(void)
{
	g_autoptr(GByteArray) b = blob_with_params(PARAMS_MAX);
	g_autoptr(mh_meta_t) m = parse_ok(b->data, b->len);

	g_assert_cmpuint(m->params->len, ==, PARAMS_MAX);
	assert_param(g_ptr_array_index(m->params, PARAMS_MAX - 1), "p255",
		     MH_PT_UINT, "255", "help 255");
}

static void test_parse_size_max(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(HEADER));
	g_autoptr(mh_meta_t) m = NULL;

	blob_pad(b, SECTION_MAX);
	m = parse_ok(b->data, b->len);
	g_assert_cmpstr(m->name, ==, "mod");
}

/* -- mh_meta_parse: refused blobs -------------------------------------- */

struct refusal {
	const char *path;
	const char *const *entries;
	int ret;
	const char *const *needles;	/* the message contains each */
};

static const struct refusal refusals[] = {
	{ "/meta/parse/missing-abi", STRV("name=mod", "version=1"),
	  -EINVAL, STRV("'abi'") },
	{ "/meta/parse/missing-name", STRV("abi=" ABI_STR, "version=1"),
	  -EINVAL, STRV("'name'") },
	{ "/meta/parse/missing-version", STRV("abi=" ABI_STR, "name=mod"),
	  -EINVAL, STRV("'version'") },
	{ "/meta/parse/only-padding", STRV("", "", "", ""),
	  -EINVAL, STRV("'abi'") },
	{ "/meta/parse/bad-abi/no-minor", STRV("abi=1", "name=m", "version=1"),
	  -EINVAL, STRV("'1'", "MAJOR.MINOR") },
	{ "/meta/parse/bad-abi/not-numbers",
	  STRV("abi=x.y", "name=m", "version=1"),
	  -EINVAL, STRV("'x.y'", "MAJOR.MINOR") },
	{ "/meta/parse/bad-abi/three-parts",
	  STRV("abi=1.2.3", "name=m", "version=1"),
	  -EINVAL, STRV("'1.2.3'", "MAJOR.MINOR") },
	{ "/meta/parse/bad-abi/too-large",
	  STRV("abi=70000.0", "name=m", "version=1"),
	  -EINVAL, STRV("'70000.0'") },
	{ "/meta/parse/bad-abi/signed",
	  STRV("abi=+1.0", "name=m", "version=1"),
	  -EINVAL, STRV("'+1.0'") },
	{ "/meta/parse/bad-abi/empty", STRV("abi=", "name=m", "version=1"),
	  -EINVAL, STRV("abi ''", "MAJOR.MINOR") },
	{ "/meta/parse/name/slash",
	  STRV("abi=" ABI_STR, "name=a/b", "version=1"),
	  -EINVAL, STRV("'a/b'", "module name") },
	{ "/meta/parse/name/dotdot",
	  STRV("abi=" ABI_STR, "name=..", "version=1"),
	  -EINVAL, STRV("'..'", "module name") },
	{ "/meta/parse/name/empty", STRV("abi=" ABI_STR, "name=", "version=1"),
	  -EINVAL, STRV("name ''", "module name") },
	{ "/meta/parse/duplicate/abi", STRV(HEADER, "abi=" ABI_STR),
	  -EINVAL, STRV("'abi'", "twice") },
	{ "/meta/parse/duplicate/name", STRV(HEADER, "name=mod"),
	  -EINVAL, STRV("'name'", "twice") },
	{ "/meta/parse/duplicate/version", STRV(HEADER, "version=2"),
	  -EINVAL, STRV("'version'", "twice") },
	{ "/meta/parse/duplicate/license",
	  STRV(HEADER, "license=MIT", "license=GPL"),
	  -EINVAL, STRV("'license'", "twice") },
	{ "/meta/parse/duplicate/description",
	  STRV(HEADER, "description=a", "description=b"),
	  -EINVAL, STRV("'description'", "twice") },
	{ "/meta/parse/control-char/tab", STRV(HEADER, "description=a\tb"),
	  -EINVAL, STRV("'description'", "control") },
	{ "/meta/parse/control-char/newline",
	  STRV("abi=" ABI_STR, "name=mod", "version=1\n"),
	  -EINVAL, STRV("'version'", "control") },
	{ "/meta/parse/control-char/del", STRV(HEADER, "license=MIT\x7f"),
	  -EINVAL, STRV("'license'", "control") },
	{ "/meta/parse/targets/twice",
	  STRV(HEADER, "targets=x86_64", "targets=aarch64"),
	  -EINVAL, STRV("'targets'", "twice") },
	{ "/meta/parse/targets/empty-name", STRV(HEADER, "targets=x86_64,,arm"),
	  -EINVAL, STRV("'x86_64,,arm'", "target names") },
	{ "/meta/parse/targets/bad-char", STRV(HEADER, "targets=x86 64"),
	  -EINVAL, STRV("'x86 64'", "target names") },
	{ "/meta/parse/targets/empty", STRV(HEADER, "targets="),
	  -EINVAL, STRV("target names") },
	{ "/meta/parse/no-equals", STRV(HEADER, "justakey"),
	  -EINVAL, STRV("'justakey'", "'='") },
	{ "/meta/parse/param/unknown-type",
	  STRV(HEADER, "param=x:float:help", "paramdefault=x:1"),
	  -EINVAL, STRV("'x'", "'float'") },
	{ "/meta/parse/param/two-fields", STRV(HEADER, "param=x:bool"),
	  -EINVAL, STRV("'x:bool'", "NAME:TYPE:HELP") },
	{ "/meta/parse/param/empty-name",
	  STRV(HEADER, "param=:bool:help", "paramdefault=:on"),
	  -EINVAL, STRV("NAME:TYPE:HELP") },
	{ "/meta/parse/param/declared-twice",
	  STRV(HEADER, "param=x:bool:help", "paramdefault=x:on",
	       "param=x:str:other"),
	  -EINVAL, STRV("'x'", "twice") },
	{ "/meta/parse/param/no-default", STRV(HEADER, "param=x:bool:help"),
	  -EINVAL, STRV("'x'", "no default") },
	{ "/meta/parse/param/two-defaults",
	  STRV(HEADER, "param=x:bool:help", "paramdefault=x:on",
	       "paramdefault=x:off"),
	  -EINVAL, STRV("'x'", "two defaults") },
	{ "/meta/parse/paramdefault/undeclared",
	  STRV(HEADER, "paramdefault=ghost:1"),
	  -EINVAL, STRV("ghost", "no declared param") },
	{ "/meta/parse/paramdefault/no-colon",
	  STRV(HEADER, "param=x:bool:help", "paramdefault=x"),
	  -EINVAL, STRV("paramdefault 'x'") },
	{ "/meta/parse/bad-default/uint",
	  STRV(HEADER, "param=n:uint:help", "paramdefault=n:-1"),
	  -EINVAL, STRV("'n'", "'-1'", "uint") },
	{ "/meta/parse/bad-default/bool",
	  STRV(HEADER, "param=b:bool:help", "paramdefault=b:maybe"),
	  -EINVAL, STRV("'b'", "'maybe'", "bool") },
	{ "/meta/parse/depends/bad-name", STRV(HEADER, "depends=../x"),
	  -EINVAL, STRV("'../x'", "module name") },
	{ "/meta/parse/depends/empty", STRV(HEADER, "depends="),
	  -EINVAL, STRV("depends ''") },
};

static void test_refusal(gconstpointer data)
{
	const struct refusal *c = data;
	g_autoptr(GByteArray) b = blob_new(c->entries);

	parse_refused(b->data, b->len, c->ret, c->needles);
}

static void test_parse_bad_default_int(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(
		HEADER, "param=i:int:help", "paramdefault=i:12abc"));

	parse_refused(b->data, b->len, -EINVAL, STRV("'i'", "'12abc'", "int"));
}

static void test_parse_empty(void)
{
	static const char nothing[1];

	parse_refused(nothing, 0, -EINVAL, STRV("empty"));
}

static void test_parse_truncated(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(HEADER, "license=MIT"));

	/* The last entry loses its NUL: "license=MIT" runs off the end. */
	parse_refused(b->data, b->len - 1, -EINVAL, STRV("NUL-terminated"));
}

/* The refusal of an unknown type lists every type there is, list too. */
static void test_parse_param_bad_type(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(HEADER, "param=p:float:help",
						"paramdefault=p:1"));

	parse_refused(b->data, b->len, -EINVAL,
		      STRV("unknown type 'float'", "bool, int, uint, str or list"));
}

static void test_parse_name_too_long(void)
{
	g_autofree char *name = g_strnfill(MH_NAME_MAX + 1, 'n');
	g_autoptr(GByteArray) b = blob_new(STRV("abi=" ABI_STR, "version=1"));

	blob_addf(b, "name=%s", name);
	parse_refused(b->data, b->len, -EINVAL,
		      STRV("module name", "nnnnnnnn"));
}

static void test_parse_too_many_depends(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(HEADER));

	for (unsigned int i = 0; i <= DEPENDS_MAX; i++)
		blob_addf(b, "depends=dep%u", i);
	parse_refused(b->data, b->len, -E2BIG, STRV("depends", "64"));
}

static void test_parse_too_many_params(void)
{
	g_autoptr(GByteArray) b = blob_with_params(PARAMS_MAX + 1);

	parse_refused(b->data, b->len, -E2BIG, STRV("params", "256"));
}

static void test_parse_too_large(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV(HEADER));

	blob_pad(b, SECTION_MAX + 1);
	parse_refused(b->data, b->len, -E2BIG, STRV("1048577", "1048576"));
}

/*
 * "abi=0.0" is taken for "no abi entry" because the parser tests
 * abi_major || abi_minor to know whether it has seen one.
 */
static void test_parse_abi_zero(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV("abi=0.0", "name=m",
						"version=1"));
	g_autoptr(mh_meta_t) m = NULL;
	g_autofree char *err = NULL;
	int ret = mh_meta_parse(b->data, b->len, &m, &err);

	/* Refused by the parser or by the ABI check, naming 0.0 either way. */
	if (!ret)
		ret = mh_meta_check_abi(m, &err);
	g_test_message("abi=0.0: %d %s", ret, err);
	g_assert_cmpint(ret, <, 0);
	g_assert_nonnull(err);
	assert_contains(err, "0.0");
}

static void test_parse_duplicate_abi_zero(void)
{
	g_autoptr(GByteArray) b = blob_new(STRV("abi=0.0", HEADER));
	g_autoptr(mh_meta_t) m = NULL;
	g_autofree char *err = NULL;
	int ret = mh_meta_parse(b->data, b->len, &m, &err);

	g_assert_cmpint(ret, ==, -EINVAL);
	assert_error(err, STRV("'abi'", "twice"));
}

/* -- mh_meta_check_abi ------------------------------------------------- */

/* Check ABI @major.@minor against the host's; the message if refused. */
static int check_abi(unsigned int major, unsigned int minor, char **err)
{
	struct mh_meta m = { .abi_major = major, .abi_minor = minor };

	*err = NULL;
	return mh_meta_check_abi(&m, err);
}

static void test_abi_same(void)
{
	g_autofree char *err = NULL;

	g_assert_cmpint(check_abi(MODHOST_ABI_MAJOR, MODHOST_ABI_MINOR, &err),
			==, 0);
	g_assert_null(err);
}

static void test_abi_older_minor(void)
{
	g_autofree char *err = NULL;

	if (MODHOST_ABI_MINOR == 0) {
		g_test_skip("host ABI minor is 0: there is no older minor");
		return;
	}
	g_assert_cmpint(check_abi(MODHOST_ABI_MAJOR, MODHOST_ABI_MINOR - 1,
				  &err), ==, 0);
	g_assert_null(err);
}

/* Module ABI @major.@minor is refused, the message naming both versions. */
static void assert_abi_refused(unsigned int major, unsigned int minor)
{
	g_autofree char *err = NULL;
	g_autofree char *mod = g_strdup_printf("%u.%u", major, minor);
	int ret = check_abi(major, minor, &err);

	g_test_message("ABI %s: %s", mod, err);
	g_assert_cmpint(ret, ==, -ENOEXEC);
	assert_error(err, STRV(mod, ABI_STR));
}

static void test_abi_newer_minor(void)
{
	assert_abi_refused(MODHOST_ABI_MAJOR, MODHOST_ABI_MINOR + 1);
}

static void test_abi_newer_major(void)
{
	assert_abi_refused(MODHOST_ABI_MAJOR + 1, 0);
}

static void test_abi_older_major(void)
{
	assert_abi_refused(MODHOST_ABI_MAJOR - 1, MODHOST_ABI_MINOR);
}

/* -- mh_meta_read: the built test modules ------------------------------ */

static void test_read_counter(void)
{
	g_autofree char *path = build_file(COUNTER_V1);
	g_autoptr(mh_meta_t) m = NULL;

	if (!path)
		return;
	m = read_ok(path);
	g_assert_cmpuint(m->abi_major, ==, MODHOST_ABI_MAJOR);
	g_assert_cmpuint(m->abi_minor, ==, MODHOST_ABI_MINOR);
	g_assert_cmpstr(m->name, ==, "counter");
	g_assert_cmpstr(m->version, ==, "1");
	g_assert_cmpstr(m->license, ==, "MIT");
	g_assert_cmpstr(m->description, ==, "test module: counts blocks");
	g_assert_cmpuint(m->depends->len, ==, 0);
	g_assert_cmpuint(m->params->len, ==, 3);
	assert_param(mh_meta_param(m, "heartbeat"), "heartbeat", MH_PT_STR, "",
		     "file whose first 8 bytes count blocks");
	assert_param(mh_meta_param(m, "start"), "start", MH_PT_UINT, "0",
		     "initial count");
	assert_param(mh_meta_param(m, "tag"), "tag", MH_PT_LIST, "",
		     "logged at init, one message a value");
}

static void test_read_dep_user(void)
{
	g_autofree char *path = build_file("tests/modules/dep_user.so");
	g_autoptr(mh_meta_t) m = NULL;

	if (!path)
		return;
	m = read_ok(path);
	g_assert_cmpstr(m->name, ==, "dep_user");
	g_assert_cmpuint(m->depends->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(m->depends, 0), ==, "dep_base");
	g_assert_cmpuint(m->params->len, ==, 0);
}

/* @rel reads fine but claims ABI @major.@minor, which the host refuses. */
static void assert_read_abi_refused(const char *rel, unsigned int major,
				    unsigned int minor)
{
	g_autofree char *path = build_file(rel);
	g_autofree char *err = NULL;
	g_autofree char *mod = g_strdup_printf("%u.%u", major, minor);
	g_autoptr(mh_meta_t) m = NULL;

	if (!path)
		return;
	m = read_ok(path);
	g_assert_cmpstr(m->name, ==, "counter");
	g_assert_cmpuint(m->abi_major, ==, major);
	g_assert_cmpuint(m->abi_minor, ==, minor);
	g_assert_cmpint(mh_meta_check_abi(m, &err), ==, -ENOEXEC);
	assert_error(err, STRV(mod, ABI_STR));
}

static void test_read_abi_major(void)
{
	assert_read_abi_refused("tests/modules/counter-abimajor.so",
				MODHOST_ABI_MAJOR + 1, MODHOST_ABI_MINOR);
}

static void test_read_abi_minor(void)
{
	assert_read_abi_refused("tests/modules/counter-abiminor.so",
				MODHOST_ABI_MAJOR, MODHOST_ABI_MINOR + 1);
}

/* -- mh_meta_read: files that are not modules -------------------------- */

static void test_read_missing(void)
{
	g_autofree char *path = g_build_filename(tmpdir, "missing.so", NULL);

	read_refused(path, -ENOENT, NULL);
}

static void test_read_directory(void)
{
	read_refused(tmpdir, -EINVAL, STRV("regular file"));
}

static void test_read_not_elf(void)
{
	static const char text[] = "#!/bin/sh\necho not a module\n";
	g_autofree char *path = write_tmp("text.so", text, sizeof(text) - 1);

	read_refused(path, -ENOEXEC, STRV("not an ELF"));
}

static void test_read_empty_file(void)
{
	g_autofree char *path = write_tmp("empty.so", "", 0);

	read_refused(path, -ENOEXEC, STRV("not an ELF"));
}

static void test_read_no_section(void)
{
	g_autofree char *path = build_file("modhost.so");

	if (path)
		read_refused(path, -ENOEXEC, STRV(MH_SECTION));
}

/*
 * A plain QEMU plugin binary (no .modhost, exports QEMU's two entries):
 * read as a QEMU-API module named after its file, any parameter accepted.
 * modhost.so exports the same two entries and stays refused (above).
 */
static void test_read_qemu_plugin_binary(void)
{
	g_autofree char *path = build_file("tests/qplugins/native/qcount.so");
	g_autofree char *err = NULL;
	struct mh_meta *m = NULL;

	if (!path)
		return;
	g_assert_cmpint(mh_meta_read(path, &m, &err), ==, 0);
	g_assert_cmpstr(m->name, ==, "qcount");
	g_assert_true(m->any_params);
	g_assert_cmpuint(m->abi_major, ==, MODHOST_ABI_MAJOR);
	g_assert_cmpuint(m->abi_minor, ==, MODHOST_ABI_MINOR);
	g_assert_nonnull(strstr(m->description, "plugin binary"));
	mh_meta_free(m);
}

static void test_read_object_file(void)
{
	g_autofree char *path = build_file("host/params.o");

	if (path)
		read_refused(path, -ENOEXEC, STRV("shared object", "ET_DYN"));
}

static void test_read_elf32(void)
{
	Elf32_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32,
			     ELFDATA2LSB, EV_CURRENT },
		.e_type = ET_DYN,
		.e_machine = EM_386,
		.e_version = EV_CURRENT,
		.e_ehsize = sizeof(Elf32_Ehdr),
	};
	g_autofree char *path = write_tmp("elf32.so", &eh, sizeof(eh));

	read_refused(path, -ENOEXEC, STRV("class 1", "64-bit"));
}

/* -- mh_meta_read: damaged copies of counter-v1.so --------------------- */

static void set_machine_aarch64(guint8 *img, gsize len)
{
	(void)len;
	((Elf64_Ehdr *)img)->e_machine = EM_AARCH64;
}

static void break_name(guint8 *img, gsize len)
{
	guint8 *name = memmem(img, len, "name=counter", sizeof("name=counter"));

	g_assert_nonnull(name);
	memcpy(name, "name=count/r", sizeof("name=count/r") - 1);
}

static void section_past_end(guint8 *img, gsize len)
{
	modhost_shdr(img, len)->sh_size = len;
}

/* One byte short: the section's last entry loses its NUL. */
static void section_one_short(guint8 *img, gsize len)
{
	modhost_shdr(img, len)->sh_size--;
}

static void section_empty(guint8 *img, gsize len)
{
	modhost_shdr(img, len)->sh_size = 0;
}

struct damage {
	const char *path;
	void (*damage)(guint8 *img, gsize len);
	int ret;			/* 0: any refusal */
	const char *const *needles;	/* the message contains each */
};

static const struct damage damages[] = {
	{ "/meta/read/wrong-machine", set_machine_aarch64,
	  -ENOEXEC, STRV("machine 183", "x86-64") },
	{ "/meta/read/bad-metadata", break_name,
	  -EINVAL, STRV("'count/r'", "module name") },
	{ "/meta/read/section-outside-file", section_past_end,
	  -ENOEXEC, STRV(MH_SECTION, "outside the file") },
	{ "/meta/read/section-cut", section_one_short,
	  -EINVAL, STRV("NUL-terminated") },
	{ "/meta/read/section-empty", section_empty,
	  0, STRV(MH_SECTION) },
};

static void test_read_damaged(gconstpointer data)
{
	const struct damage *d = data;
	gsize len;
	g_autofree guint8 *img = build_file_contents(COUNTER_V1, &len);
	g_autofree char *path = NULL;

	if (!img)
		return;
	d->damage(img, len);
	path = write_tmp("damaged.so", img, len);
	read_refused(path, d->ret, d->needles);
}

struct truncation {
	const char *path;
	gssize keep;	/* > 0: the first bytes; < 0: all but; 0: half */
};

static const struct truncation truncations[] = {
	{ "/meta/read/truncated/16", 16 },
	{ "/meta/read/truncated/64", 64 },
	{ "/meta/read/truncated/half", 0 },
	{ "/meta/read/truncated/all-but-100", -100 },
};

/* Write the first @keep bytes of @img; reading them must fail cleanly. */
static void assert_truncated_refused(const guint8 *img, gsize keep)
{
	g_autofree char *name = g_strdup_printf("truncated-%zu.so", keep);
	g_autofree char *path = write_tmp(name, img, keep);

	read_refused(path, 0, NULL);
	g_unlink(path);
}

static void test_read_truncated(gconstpointer data)
{
	const struct truncation *t = data;
	gsize len;
	g_autofree guint8 *img = build_file_contents(COUNTER_V1, &len);

	if (!img)
		return;
	assert_truncated_refused(img, t->keep > 0 ? (gsize)t->keep :
				 t->keep < 0 ? len + t->keep : len / 2);
}

static void test_read_truncated_sweep(void)
{
	gsize len;
	g_autofree guint8 *img = build_file_contents(COUNTER_V1, &len);

	if (!img)
		return;
	for (gsize keep = 1; keep < len; keep += 509)
		assert_truncated_refused(img, keep);
	assert_truncated_refused(img, len - 1);
}

/* -- main -------------------------------------------------------------- */

static void remove_tmpdir(void)
{
	GDir *d = g_dir_open(tmpdir, 0, NULL);
	const char *name;

	while (d && (name = g_dir_read_name(d))) {
		g_autofree char *path = g_build_filename(tmpdir, name, NULL);

		g_unlink(path);
	}
	if (d)
		g_dir_close(d);
	g_rmdir(tmpdir);
	g_clear_pointer(&tmpdir, g_free);
}

int main(int argc, char **argv)
{
	GError *gerr = NULL;
	int ret;

	g_test_init(&argc, &argv, NULL);
	tmpdir = g_dir_make_tmp("test-meta-XXXXXX", &gerr);
	if (!tmpdir)
		g_error("g_dir_make_tmp: %s", gerr->message);

	g_test_add_func("/meta/parse/valid", test_parse_valid);
	g_test_add_func("/meta/parse/minimal", test_parse_minimal);
	g_test_add_func("/meta/targets", test_targets);
	g_test_add_func("/meta/parse/padding", test_parse_padding);
	g_test_add_func("/meta/parse/default-before-param",
			test_parse_default_first);
	g_test_add_func("/meta/parse/unknown-keys", test_parse_unknown_keys);
	g_test_add_func("/meta/parse/param/int", test_parse_param_int);
	g_test_add_func("/meta/parse/name/max-length", test_parse_name_max);
	g_test_add_func("/meta/parse/depends/max", test_parse_depends_max);
	g_test_add_func("/meta/parse/params/max", test_parse_params_max);
	g_test_add_func("/meta/parse/size/max", test_parse_size_max);
	for (unsigned int i = 0; i < G_N_ELEMENTS(refusals); i++)
		g_test_add_data_func(refusals[i].path, &refusals[i],
				     test_refusal);
	g_test_add_func("/meta/parse/bad-default/int",
			test_parse_bad_default_int);
	g_test_add_func("/meta/parse/empty", test_parse_empty);
	g_test_add_func("/meta/parse/param/bad-type", test_parse_param_bad_type);
	g_test_add_func("/meta/parse/truncated", test_parse_truncated);
	g_test_add_func("/meta/parse/name/too-long", test_parse_name_too_long);
	g_test_add_func("/meta/parse/depends/too-many",
			test_parse_too_many_depends);
	g_test_add_func("/meta/parse/params/too-many",
			test_parse_too_many_params);
	g_test_add_func("/meta/parse/size/too-large", test_parse_too_large);
	g_test_add_func("/meta/parse/bad-abi/zero", test_parse_abi_zero);
	g_test_add_func("/meta/parse/duplicate/abi-zero-first",
			test_parse_duplicate_abi_zero);

	g_test_add_func("/meta/abi/same", test_abi_same);
	g_test_add_func("/meta/abi/older-minor", test_abi_older_minor);
	g_test_add_func("/meta/abi/newer-minor", test_abi_newer_minor);
	g_test_add_func("/meta/abi/newer-major", test_abi_newer_major);
	g_test_add_func("/meta/abi/older-major", test_abi_older_major);

	g_test_add_func("/meta/read/counter-v1", test_read_counter);
	g_test_add_func("/meta/read/dep-user", test_read_dep_user);
	g_test_add_func("/meta/read/abi-major", test_read_abi_major);
	g_test_add_func("/meta/read/abi-minor", test_read_abi_minor);
	g_test_add_func("/meta/read/missing", test_read_missing);
	g_test_add_func("/meta/read/directory", test_read_directory);
	g_test_add_func("/meta/read/not-elf", test_read_not_elf);
	g_test_add_func("/meta/read/empty-file", test_read_empty_file);
	g_test_add_func("/meta/read/no-section", test_read_no_section);
	g_test_add_func("/meta/read/qemu-plugin-binary",
			test_read_qemu_plugin_binary);
	g_test_add_func("/meta/read/object-file", test_read_object_file);
	g_test_add_func("/meta/read/elf32", test_read_elf32);
	for (unsigned int i = 0; i < G_N_ELEMENTS(damages); i++)
		g_test_add_data_func(damages[i].path, &damages[i],
				     test_read_damaged);
	for (unsigned int i = 0; i < G_N_ELEMENTS(truncations); i++)
		g_test_add_data_func(truncations[i].path, &truncations[i],
				     test_read_truncated);
	g_test_add_func("/meta/read/truncated/sweep",
			test_read_truncated_sweep);

	ret = g_test_run();
	remove_tmpdir();
	return ret;
}
