// SPDX-License-Identifier: MIT
/*
 * Loading a module file: metadata before code.
 *
 * The file is read once into memory.  Its ".modhost" section is parsed
 * from that image with libelf and checked (ABI version, name, parameters)
 * before anything else happens; only then is the image written to a private
 * copy and dlopen()ed, so no code of a refused module ever runs and a later
 * write to the watched file cannot touch the mapping.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define META_MAX_SIZE (1u << 20)
#define META_MAX_DEPENDS 64
#define META_MAX_PARAMS 256
#define META_MAX_SYMBOLS 256
#define META_MAX_TARGETS 32
#define META_MAX_TARGET_LEN 32

static char *private_dir;
static int private_lock = -1;	/* private_dir, flock()ed while we run */
static unsigned int copy_seq;
/* qcompat-bin.so, read the first time a plain QEMU plugin binary loads. */
static char *layer_image;
static gsize layer_size;

/* -- metadata --------------------------------------------------------- */

static void param_decl_free(gpointer p)
{
	struct mh_param_decl *d = p;

	g_free(d->name);
	g_free(d->def);
	g_free(d->help);
	g_free(d);
}

static void meta_sym_free(gpointer p)
{
	struct mh_meta_sym *s = p;

	g_free(s->module);
	g_free(s->name);
	g_free(s->sig);
	g_free(s);
}

void mh_meta_free(struct mh_meta *m)
{
	if (!m)
		return;
	g_free(m->name);
	g_free(m->version);
	g_free(m->license);
	g_free(m->description);
	g_ptr_array_unref(m->depends);
	g_ptr_array_unref(m->params);
	g_ptr_array_unref(m->exports);
	g_ptr_array_unref(m->imports);
	g_strfreev(m->targets);
	g_free(m);
}

GPtrArray *mh_meta_requires(const struct mh_meta *m)
{
	GPtrArray *req = g_ptr_array_new();

	for (guint i = 0; i < m->depends->len; i++)
		g_ptr_array_add(req, g_ptr_array_index(m->depends, i));
	for (guint i = 0; i < m->imports->len; i++) {
		struct mh_meta_sym *s = g_ptr_array_index(m->imports, i);

		if (!g_ptr_array_find_with_equal_func(req, s->module, g_str_equal,
						      NULL))
			g_ptr_array_add(req, s->module);
	}
	return req;
}

const struct mh_param_decl *mh_meta_param(const struct mh_meta *m,
					  const char *name)
{
	for (unsigned int i = 0; i < m->params->len; i++) {
		const struct mh_param_decl *d = g_ptr_array_index(m->params, i);

		if (!strcmp(d->name, name))
			return d;
	}
	return NULL;
}

static bool printable(const char *s)
{
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	}
	return true;
}

static int set_once(char **field, const char *key, const char *val, char **err)
{
	if (*field) {
		*err = g_strdup_printf("metadata: '%s' given twice", key);
		return -EINVAL;
	}
	*field = g_strdup(val);
	return 0;
}

static int parse_abi(struct mh_meta *m, const char *val, char **err)
{
	guint64 major, minor;
	g_auto(GStrv) parts = g_strsplit(val, ".", 3);

	if (g_strv_length(parts) != 2 ||
	    !g_ascii_string_to_unsigned(parts[0], 10, 0, G_MAXUINT16, &major, NULL) ||
	    !g_ascii_string_to_unsigned(parts[1], 10, 0, G_MAXUINT16, &minor, NULL)) {
		*err = g_strdup_printf("metadata: abi '%.40s' is not MAJOR.MINOR", val);
		return -EINVAL;
	}
	m->abi_major = major;
	m->abi_minor = minor;
	m->has_abi = true;
	return 0;
}

static int parse_param(struct mh_meta *m, const char *val, char **err)
{
	g_auto(GStrv) f = g_strsplit(val, ":", 3);
	struct mh_param_decl *d;
	enum mh_ptype t;

	if (g_strv_length(f) != 3 || !mh_valid_param_name(f[0])) {
		*err = g_strdup_printf("metadata: param '%.40s' is not NAME:TYPE:HELP "
				       "with NAME an identifier", val);
		return -EINVAL;
	}
	if (mh_ptype_from_string(f[1], &t)) {
		*err = g_strdup_printf("metadata: param '%s' has unknown type '%.20s' "
				       "(expected bool, int, uint, str or list)", f[0], f[1]);
		return -EINVAL;
	}
	if (mh_meta_param(m, f[0])) {
		*err = g_strdup_printf("metadata: param '%.40s' declared twice", f[0]);
		return -EINVAL;
	}
	if (m->params->len >= META_MAX_PARAMS) {
		*err = g_strdup_printf("metadata: more than %d params", META_MAX_PARAMS);
		return -E2BIG;
	}
	d = g_new0(struct mh_param_decl, 1);
	d->name = g_strdup(f[0]);
	d->type = t;
	d->help = g_strdup(f[2]);
	g_ptr_array_add(m->params, d);
	return 0;
}

/*
 * targets=NAME,NAME...: the QEMU targets (qemu_info_t.target_name:
 * x86_64, i386, aarch64, arm ...) the module serves; without the key it
 * serves every target.
 */
static int parse_targets(struct mh_meta *m, const char *val, char **err)
{
	g_auto(GStrv) t = g_strsplit(val, ",", META_MAX_TARGETS + 1);

	if (m->targets) {
		*err = g_strdup("metadata: 'targets' given twice");
		return -EINVAL;
	}
	if (g_strv_length(t) > META_MAX_TARGETS) {
		*err = g_strdup_printf("metadata: more than %d targets",
				       META_MAX_TARGETS);
		return -E2BIG;
	}
	/* "" splits into no names at all: refused like an empty name. */
	for (char **p = t; *p || p == t; p++) {
		const char *c = *p ? *p : "";

		while (g_ascii_isalnum(*c) || *c == '_')
			c++;
		if (!*p || !**p || *c || c - *p > META_MAX_TARGET_LEN) {
			*err = g_strdup_printf("metadata: targets '%.40s' is not a "
					       "comma-separated list of target "
					       "names ([A-Za-z0-9_]{1,%d})", val,
					       META_MAX_TARGET_LEN);
			return -EINVAL;
		}
	}
	m->targets = g_steal_pointer(&t);
	return 0;
}

static bool same_symbol(const struct mh_meta_sym *a, const struct mh_meta_sym *b)
{
	return !g_strcmp0(a->module, b->module) && !strcmp(a->name, b->name);
}

/* export=NAME:SIG or import=MODULE.NAME:SIG */
static int parse_symbol(struct mh_meta *m, const char *key, const char *val,
			char **err)
{
	bool import = !strcmp(key, "import");
	GPtrArray *list = import ? m->imports : m->exports;
	const char *colon = strchr(val, ':');
	g_autofree char *what = colon ? g_strndup(val, colon - val) : NULL;
	struct mh_meta_sym *sym;
	char *dot;
	g_autofree char *why = NULL;

	if (!what) {
		*err = g_strdup_printf("metadata: %s '%.60s' is not %s:SIGNATURE",
				       key, val, import ? "MODULE.NAME" : "NAME");
		return -EINVAL;
	}
	sym = g_new0(struct mh_meta_sym, 1);
	dot = import ? strchr(what, '.') : NULL;
	if (dot) {
		sym->module = g_strndup(what, dot - what);
		sym->name = g_strdup(dot + 1);
	} else {
		sym->name = g_strdup(what);
	}
	if ((import && (!sym->module ||
			!mh_valid_module_name(sym->module, strlen(sym->module)))) ||
	    !mh_valid_param_name(sym->name)) {
		*err = g_strdup_printf("metadata: %s '%.60s': expected %s with C "
				       "identifier NAME", key, what,
				       import ? "MODULE.NAME" : "NAME");
		goto fail;
	}
	if (mh_sig_parse(colon + 1, &(struct mh_sig){ 0 }, &why)) {
		*err = g_strdup_printf("metadata: %s '%s': %s", key, what, why);
		goto fail;
	}
	sym->sig = g_strdup(colon + 1);
	for (guint i = 0; i < list->len; i++) {
		if (same_symbol(g_ptr_array_index(list, i), sym)) {
			*err = g_strdup_printf("metadata: %s '%s' given twice",
					       key, what);
			goto fail;
		}
	}
	if (list->len >= META_MAX_SYMBOLS) {
		*err = g_strdup_printf("metadata: more than %d %ss",
				       META_MAX_SYMBOLS, key);
		meta_sym_free(sym);
		return -E2BIG;
	}
	g_ptr_array_add(list, sym);
	return 0;
fail:
	meta_sym_free(sym);
	return -EINVAL;
}

/* Defaults may come before their declaration: resolved after the pass. */
static int apply_defaults(struct mh_meta *m, GPtrArray *defaults, char **err)
{
	for (unsigned int i = 0; i < defaults->len; i++) {
		const char *val = g_ptr_array_index(defaults, i);
		const char *colon = strchr(val, ':');
		g_autofree char *name = colon ? g_strndup(val, colon - val) : NULL;
		struct mh_param_decl *d;
		g_autofree char *why = NULL;

		if (!name) {
			*err = g_strdup_printf("metadata: paramdefault '%.40s' is "
					       "not NAME:VALUE", val);
			return -EINVAL;
		}
		d = (struct mh_param_decl *)mh_meta_param(m, name);
		if (!d) {
			*err = g_strdup_printf("metadata: paramdefault '%.40s' names "
					       "no declared param", val);
			return -EINVAL;
		}
		if (d->def) {
			*err = g_strdup_printf("metadata: param '%s' has two defaults",
					       d->name);
			return -EINVAL;
		}
		if (mh_param_check(d->type, colon + 1, &why)) {
			*err = g_strdup_printf("metadata: default of param '%s': %s",
					       d->name, why);
			return -EINVAL;
		}
		d->def = g_strdup(colon + 1);
	}
	for (unsigned int i = 0; i < m->params->len; i++) {
		struct mh_param_decl *d = g_ptr_array_index(m->params, i);

		if (!d->def) {
			*err = g_strdup_printf("metadata: param '%s' has no default",
					       d->name);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_entry(struct mh_meta *m, GPtrArray *defaults, const char *s,
		       char **err)
{
	const char *eq = strchr(s, '=');
	const char *val;

	/* Refusals are one line: no byte of the file reaches them raw. */
	if (!printable(s)) {
		g_autofree char *k = g_strndup(s, eq ? (size_t)(eq - s) : strlen(s));
		g_autofree char *shown = g_strescape(k, NULL);

		*err = g_strdup_printf("metadata: '%.40s' holds control characters",
				       shown);
		return -EINVAL;
	}
	if (!eq) {
		*err = g_strdup_printf("metadata: entry '%.40s' has no '='", s);
		return -EINVAL;
	}
	val = eq + 1;
	g_autofree char *key = g_strndup(s, eq - s);

	if (!strcmp(key, "abi")) {
		if (m->has_abi) {
			*err = g_strdup("metadata: 'abi' given twice");
			return -EINVAL;
		}
		return parse_abi(m, val, err);
	}
	if (!strcmp(key, "name"))
		return set_once(&m->name, key, val, err);
	if (!strcmp(key, "version"))
		return set_once(&m->version, key, val, err);
	if (!strcmp(key, "license"))
		return set_once(&m->license, key, val, err);
	if (!strcmp(key, "description"))
		return set_once(&m->description, key, val, err);
	if (!strcmp(key, "depends")) {
		if (!mh_valid_module_name(val, strlen(val))) {
			*err = g_strdup_printf("metadata: depends '%.40s' is not a "
					       "module name", val);
			return -EINVAL;
		}
		if (m->depends->len >= META_MAX_DEPENDS) {
			*err = g_strdup_printf("metadata: more than %d depends",
					       META_MAX_DEPENDS);
			return -E2BIG;
		}
		g_ptr_array_add(m->depends, g_strdup(val));
		return 0;
	}
	if (!strcmp(key, "param"))
		return parse_param(m, val, err);
	if (!strcmp(key, "params")) {
		if (m->any_params || strcmp(val, "any")) {
			*err = g_strdup_printf("metadata: params '%.40s': expected "
					       "'any', once", val);
			return -EINVAL;
		}
		m->any_params = true;
		return 0;
	}
	if (!strcmp(key, "export") || !strcmp(key, "import"))
		return parse_symbol(m, key, val, err);
	if (!strcmp(key, "targets"))
		return parse_targets(m, val, err);
	if (!strcmp(key, "paramdefault")) {
		g_ptr_array_add(defaults, (gpointer)val);
		return 0;
	}
	/* Keys of later minors are ignored by design; the minor check guards. */
	return 0;
}

static struct mh_meta *meta_new(void)
{
	struct mh_meta *m = g_new0(struct mh_meta, 1);

	m->depends = g_ptr_array_new_with_free_func(g_free);
	m->params = g_ptr_array_new_with_free_func(param_decl_free);
	m->exports = g_ptr_array_new_with_free_func(meta_sym_free);
	m->imports = g_ptr_array_new_with_free_func(meta_sym_free);
	return m;
}

int mh_meta_parse(const void *data, size_t len, struct mh_meta **out,
		  char **err)
{
	const char *p = data, *end = p + len;
	g_autoptr(GPtrArray) defaults = g_ptr_array_new();
	struct mh_meta *m;
	int ret = 0;

	if (len == 0) {
		*err = g_strdup("metadata: section is empty");
		return -EINVAL;
	}
	if (len > META_MAX_SIZE) {
		*err = g_strdup_printf("metadata: section is %zu bytes, more than "
				       "%u", len, META_MAX_SIZE);
		return -E2BIG;
	}
	if (end[-1] != '\0') {
		*err = g_strdup("metadata: last entry is not NUL-terminated "
				"(truncated section?)");
		return -EINVAL;
	}
	m = meta_new();

	/* Entries are NUL-terminated; runs of NULs are alignment padding. */
	while (p < end && !ret) {
		size_t n = strlen(p);

		if (n)
			ret = parse_entry(m, defaults, p, err);
		p += n + 1;
	}
	if (!ret)
		ret = apply_defaults(m, defaults, err);
	if (!ret && !m->has_abi) {
		*err = g_strdup("metadata: no 'abi' entry");
		ret = -EINVAL;
	}
	if (!ret && !m->name) {
		*err = g_strdup("metadata: no 'name' entry");
		ret = -EINVAL;
	}
	if (!ret && !mh_valid_module_name(m->name, strlen(m->name))) {
		*err = g_strdup_printf("metadata: name '%.40s' is not a module "
				       "name ([A-Za-z0-9_-]{1,%d})", m->name,
				       MH_NAME_MAX);
		ret = -EINVAL;
	}
	if (!ret && !m->version) {
		*err = g_strdup("metadata: no 'version' entry");
		ret = -EINVAL;
	}
	if (ret) {
		mh_meta_free(m);
		return ret;
	}
	*out = m;
	return 0;
}

int mh_meta_check_abi(const struct mh_meta *m, char **err)
{
	if (m->abi_major != MODHOST_ABI_MAJOR || m->abi_minor > MODHOST_ABI_MINOR) {
		*err = g_strdup_printf("built for module ABI %u.%u, host has ABI "
				       "%d.%d (needs major %d, minor <= %d)",
				       m->abi_major, m->abi_minor,
				       MODHOST_ABI_MAJOR, MODHOST_ABI_MINOR,
				       MODHOST_ABI_MAJOR, MODHOST_ABI_MINOR);
		return -ENOEXEC;
	}
	return 0;
}

/* Find and parse the metadata section of an in-memory ELF image. */
static int meta_from_image(void *image, size_t size, struct mh_meta **out,
			   char **err)
{
	Elf *elf;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int ret = -ENOEXEC;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		*err = g_strdup("libelf is unusable");
		return -ENOSYS;
	}
	elf = elf_memory(image, size);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		*err = g_strdup("not an ELF file");
		goto out;
	}
	if (!gelf_getehdr(elf, &eh)) {
		*err = g_strdup_printf("corrupt ELF header (%s)", elf_errmsg(-1));
		goto out;
	}
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64) {
		*err = g_strdup_printf("ELF class %d machine %d, expected a 64-bit "
				       "x86-64 shared object", eh.e_ident[EI_CLASS],
				       eh.e_machine);
		goto out;
	}
	if (eh.e_type != ET_DYN) {
		*err = g_strdup("not a shared object (ELF type is not ET_DYN)");
		goto out;
	}
	if (!eh.e_shoff || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shoff > size ||
	    (size - eh.e_shoff) / eh.e_shentsize < MAX(eh.e_shnum, 1u)) {
		*err = g_strdup("truncated or corrupt: the section table lies "
				"outside the file");
		goto out;
	}
	if (elf_getshdrstrndx(elf, &shstrndx)) {
		*err = g_strdup_printf("corrupt section table (%s)", elf_errmsg(-1));
		goto out;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh)) {
			*err = g_strdup_printf("corrupt section header (%s)",
					       elf_errmsg(-1));
			goto out;
		}
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, MH_SECTION))
			continue;
		if (sh.sh_size == 0) {
			*err = g_strdup_printf("metadata: section %s is empty",
					       MH_SECTION);
			goto out;
		}
		if (sh.sh_type == SHT_NOBITS || sh.sh_offset > size ||
		    sh.sh_size > size - sh.sh_offset) {
			*err = g_strdup_printf("section %s lies outside the file "
					       "(truncated?)", MH_SECTION);
			goto out;
		}
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf) {
			*err = g_strdup_printf("section %s unreadable (%s)",
					       MH_SECTION, elf_errmsg(-1));
			goto out;
		}
		ret = mh_meta_parse(data->d_buf, data->d_size, out, err);
		goto out;
	}
	*err = g_strdup_printf("no %s section: not a modhost module (build it "
			       "with the modhost SDK)", MH_SECTION);
out:
	if (elf)
		elf_end(elf);
	return ret;
}

/* Why @path, which open() refused with @e, cannot be read. */
static char *open_error(const char *path, int e)
{
	struct stat st;

	if (e == ELOOP)
		return g_strdup("symbolic link loop");
	/* Present, but what it points to is not. */
	if (e == ENOENT && !lstat(path, &st) && S_ISLNK(st.st_mode))
		return g_strdup("dangling symbolic link (its target is missing)");
	return g_strdup(g_strerror(e));
}

/*
 * Read the whole of a regular file.  Anything else (a FIFO, a device, a
 * directory) is refused without reading it, and the open never blocks: a
 * FIFO renamed over a module must not stop the host.
 */
static int read_image(const char *path, char **image, gsize *size,
		      struct stat *stp, char **err)
{
	struct stat st;
	g_autofree char *buf = NULL;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		*err = open_error(path, -ret);
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		*err = g_strdup(g_strerror(-ret));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = g_strdup_printf("not a regular file (%s)",
				       S_ISDIR(st.st_mode) ? "a directory" :
				       S_ISFIFO(st.st_mode) ? "a FIFO" :
				       S_ISSOCK(st.st_mode) ? "a socket" :
				       "a device");
		ret = -EINVAL;
		goto out;
	}
	if (st.st_size > MH_MAX_FILE_SIZE) {
		*err = g_strdup_printf("file is larger than %u MiB",
				       MH_MAX_FILE_SIZE >> 20);
		ret = -EFBIG;
		goto out;
	}
	buf = g_malloc(st.st_size + 1);
	/* Up to the size fstat gave: a file growing meanwhile is judged as read. */
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			*err = g_strdup_printf("read: %s", g_strerror(-ret));
			goto out;
		}
		if (n == 0)
			break;
		got += n;
	}
	buf[got] = '\0';
	*image = g_steal_pointer(&buf);
	*size = got;
	if (stp)
		*stp = st;
	ret = 0;
out:
	close(fd);
	return ret;
}

static bool qplugin_image(void *image, size_t size);
static struct mh_meta *qplugin_meta(const char *name);

/*
 * The metadata of module @name from its file's @image; a QEMU plugin as
 * QEMU's build makes it has none: then what the layer would have written,
 * and *@qplugin set.
 */
static int image_meta(void *image, size_t size, const char *name,
		      struct mh_meta **out, bool *qplugin, char **err)
{
	int ret = meta_from_image(image, size, out, err);

	*qplugin = false;
	if (ret && qplugin_image(image, size)) {
		g_clear_pointer(err, g_free);
		*out = qplugin_meta(name);
		*qplugin = true;
		ret = 0;
	}
	return ret;
}

int mh_meta_read(const char *path, struct mh_meta **out, char **err)
{
	g_autofree char *image = NULL;
	g_autofree char *base = g_path_get_basename(path);
	gsize size;
	bool qplugin;
	int ret;

	ret = read_image(path, &image, &size, NULL, err);
	if (ret)
		return ret;
	if (mh_script_is_file(path))
		return mh_script_meta(path, image, size, out, err);
	if (g_str_has_suffix(base, ".so"))
		base[strlen(base) - 3] = '\0';
	return image_meta(image, size, base, out, &qplugin, err);
}

/* -- instances -------------------------------------------------------- */

static GHashTable *resolve_params(const struct mh_meta *m, GHashTable *overrides,
				  char **err)
{
	GHashTable *p = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      g_free);
	GHashTableIter it;
	gpointer k, v;

	for (unsigned int i = 0; i < m->params->len; i++) {
		const struct mh_param_decl *d = g_ptr_array_index(m->params, i);

		g_hash_table_insert(p, g_strdup(d->name), g_strdup(d->def));
	}
	if (!overrides)
		return p;
	g_hash_table_iter_init(&it, overrides);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const struct mh_param_decl *d = mh_meta_param(m, k);
		g_autofree char *why = NULL;

		/* The order given, and undeclared keys the module takes. */
		if (mh_param_is_order(k) || (!d && m->any_params)) {
			g_hash_table_insert(p, g_strdup(k), g_strdup(v));
			continue;
		}
		if (!d) {
			g_autoptr(GString) names = g_string_new(NULL);

			for (unsigned int i = 0; i < m->params->len; i++) {
				const struct mh_param_decl *o =
					g_ptr_array_index(m->params, i);
				g_string_append_printf(names, "%s%s", i ? ", " : "",
						       o->name);
			}
			*err = g_strdup_printf("unknown parameter '%s' (module "
					       "declares: %s)", (char *)k,
					       names->len ? names->str : "none");
			goto fail;
		}
		if (mh_param_check(d->type, v, &why)) {
			*err = g_strdup_printf("parameter %s: %s", d->name, why);
			goto fail;
		}
		g_hash_table_insert(p, g_strdup(k),
				    g_strdup(mh_param_value(d->type, v)));
	}
	return p;
fail:
	g_hash_table_unref(p);
	return NULL;
}

/*
 * The private directory is "modhost-PID-XXXXXX" in the temporary directory,
 * flock()ed by its host for as long as it runs.  A QEMU that dies without
 * its atexit (abort, exit from elsewhere, SIGKILL) leaves it behind; the
 * next host removes those whose owner is gone: its pid names no process
 * and the lock is free (the lock also covers a pid seen from another pid
 * namespace sharing the directory).
 */
#define PRIVATE_PREFIX "modhost-"

/* Is @name, in @tmpdir, the private directory of a dead host of ours? */
static bool private_dir_stale(int tmpfd, const char *name, int *dirfd)
{
	const char *p = name + strlen(PRIVATE_PREFIX);
	char *end;
	long pid;
	struct stat st;
	int fd;

	errno = 0;
	pid = strtol(p, &end, 10);
	if (errno || end == p || *end != '-' || pid <= 0 || pid == getpid() ||
	    strlen(end + 1) != 6)
		return false;
	/* EPERM: alive, another user's. */
	if (pid <= G_MAXINT && (kill(pid, 0) == 0 || errno != ESRCH))
		return false;
	fd = openat(tmpfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (fstat(fd, &st) || st.st_uid != getuid() ||
	    flock(fd, LOCK_EX | LOCK_NB)) {
		close(fd);
		return false;
	}
	*dirfd = fd;
	return true;
}

/* Remove the private copies a dead host left in @dirfd, then the directory. */
static void private_dir_remove(int tmpfd, const char *name, int dirfd)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd, de->d_name, 0);
	}
	/*
	 * Still locked by us while it goes.  If something we did not put
	 * there keeps it (a subdirectory), it stays: nothing of ours is lost.
	 */
	unlinkat(tmpfd, name, AT_REMOVEDIR);
	closedir(d);
}

static void private_dirs_clean(void)
{
	int tmpfd = open(g_get_tmp_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	g_autoptr(GPtrArray) stale = g_ptr_array_new_with_free_func(g_free);

	if (tmpfd < 0)
		return;
	d = fdopendir(dup(tmpfd));
	if (!d) {
		close(tmpfd);
		return;
	}
	/* Names first: removing while readdir() walks may skip entries. */
	while ((de = readdir(d))) {
		if (g_str_has_prefix(de->d_name, PRIVATE_PREFIX))
			g_ptr_array_add(stale, g_strdup(de->d_name));
	}
	closedir(d);
	for (guint i = 0; i < stale->len; i++) {
		const char *name = g_ptr_array_index(stale, i);
		int dirfd;

		if (private_dir_stale(tmpfd, name, &dirfd))
			private_dir_remove(tmpfd, name, dirfd);
	}
	close(tmpfd);
}

int mh_loader_init(char **err)
{
	g_autofree char *tmpl = g_strdup_printf(PRIVATE_PREFIX "%d-XXXXXX",
						(int)getpid());
	GError *gerr = NULL;
	int ret;

	private_dirs_clean();
	private_dir = g_dir_make_tmp(tmpl, &gerr);
	if (!private_dir) {
		*err = g_strdup_printf("cannot create a private directory: %s",
				       gerr->message);
		g_error_free(gerr);
		return -EIO;
	}
	private_lock = open(private_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (private_lock < 0 || flock(private_lock, LOCK_EX | LOCK_NB)) {
		ret = -errno;
		*err = g_strdup_printf("%s: cannot lock the private directory: %s",
				       private_dir, g_strerror(-ret));
		mh_loader_cleanup();
		return ret;
	}
	return 0;
}

void mh_loader_cleanup(void)
{
	g_clear_pointer(&layer_image, g_free);
	if (private_dir)
		rmdir(private_dir);
	g_clear_pointer(&private_dir, g_free);
	if (private_lock >= 0)
		close(private_lock);
	private_lock = -1;
}

/*
 * dlopen a private copy of @image; the copy is unlinked at once.  Its name,
 * "DIR/NAME.N.so", is what dladdr() reports for the module's code:
 * hypercaller reads the module's name from it (the ABI has no other way).
 */
static void *open_copy(const char *name, const char *image, gsize size,
		       char **err)
{
	g_autofree char *copy = g_strdup_printf("%s/%s.%u.so", private_dir, name,
						++copy_seq);
	GError *gerr = NULL;
	void *h;

	if (!g_file_set_contents_full(copy, image, size,
				      G_FILE_SET_CONTENTS_NONE, 0700, &gerr)) {
		*err = g_strdup_printf("cannot write private copy: %s",
				       gerr->message);
		g_error_free(gerr);
		return NULL;
	}
	h = dlopen(copy, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		*err = g_strdup_printf("dlopen: %s", dlerror());
	unlink(copy);
	return h;
}

/* The checks of mh_module_ops' header: size, then the ABI it was built for. */
static int check_ops_header(const struct mh_meta *m,
			    const struct mh_module_ops *ops, char **err)
{
	size_t min = offsetof(struct mh_module_ops, init) + sizeof(ops->init);

	if (ops->size < min) {
		*err = g_strdup_printf("%s is %u bytes, less than %zu",
				       MH_OPS_SYMBOL, ops->size, min);
		return -ENOEXEC;
	}
	if (ops->abi_major != m->abi_major || ops->abi_minor != m->abi_minor) {
		*err = g_strdup_printf("inconsistent: metadata says ABI %u.%u, %s "
				       "says %u.%u", m->abi_major, m->abi_minor,
				       MH_OPS_SYMBOL, ops->abi_major,
				       ops->abi_minor);
		return -ENOEXEC;
	}
	return 0;
}

/*
 * Find mh_module_ops in the image's dynamic symbols and check its header
 * (size and ABI are plain data in the file) before dlopen() runs any of
 * the module's constructors.  take_ops() checks the mapped symbol again.
 */
static int check_ops_in_image(void *image, size_t size,
			      const struct mh_meta *m, char **err)
{
	Elf *elf = elf_memory(image, size);
	Elf_Scn *scn = NULL;
	int ret = -ENOEXEC;

	if (!elf) {
		*err = g_strdup_printf("not an ELF file (%s)", elf_errmsg(-1));
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *syms;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		syms = elf_getdata(scn, NULL);
		for (size_t i = 0; syms && sh.sh_entsize &&
		     i < sh.sh_size / sh.sh_entsize; i++) {
			struct mh_module_ops hdr = { 0 };
			const size_t hlen = offsetof(struct mh_module_ops, init);
			GElf_Shdr home;
			GElf_Sym sym;
			const char *name;
			uint64_t at;

			if (!gelf_getsym(syms, i, &sym))
				break;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || strcmp(name, MH_OPS_SYMBOL) ||
			    sym.st_shndx == SHN_UNDEF)
				continue;
			if (sym.st_shndx >= SHN_LORESERVE ||
			    !gelf_getshdr(elf_getscn(elf, sym.st_shndx), &home) ||
			    home.sh_type == SHT_NOBITS ||
			    sym.st_value < home.sh_addr ||
			    sym.st_value - home.sh_addr > home.sh_size ||
			    home.sh_size - (sym.st_value - home.sh_addr) < hlen ||
			    home.sh_offset > size ||
			    (at = home.sh_offset + (sym.st_value - home.sh_addr)) >
			    size - hlen) {
				*err = g_strdup_printf("%s lies outside the file",
						       MH_OPS_SYMBOL);
				goto out;
			}
			memcpy(&hdr, (char *)image + at, hlen);
			ret = check_ops_header(m, &hdr, err);
			/* The host copies .size bytes: they must be the symbol's. */
			if (!ret && hdr.size > sym.st_size) {
				*err = g_strdup_printf("%s says it is %u bytes, the "
						       "symbol is %zu", MH_OPS_SYMBOL,
						       hdr.size, (size_t)sym.st_size);
				ret = -ENOEXEC;
			}
			goto out;
		}
	}
	*err = g_strdup_printf("no '%s' symbol (declare the module with "
			       "MH_MODULE())", MH_OPS_SYMBOL);
out:
	elf_end(elf);
	return ret;
}

static int take_ops(struct mh_module *mod, void *handle, char **err)
{
	const struct mh_module_ops *ops = dlsym(handle, MH_OPS_SYMBOL);
	int ret;

	if (!ops) {
		*err = g_strdup_printf("no '%s' symbol (declare the module with "
				       "MH_MODULE())", MH_OPS_SYMBOL);
		return -ENOEXEC;
	}
	ret = check_ops_header(mod->meta, ops, err);
	if (ret)
		return ret;
	memcpy(&mod->ops, ops, MIN(ops->size, sizeof(mod->ops)));
	if (!mod->ops.init) {
		*err = g_strdup("no init hook");
		return -ENOEXEC;
	}
	return 0;
}

static char *host_target;	/* QEMU's target_name, set at start */

void mh_loader_set_target(const char *target)
{
	g_free(host_target);
	host_target = g_strdup(target);
}

int mh_meta_check_target(const struct mh_meta *m, char **err)
{
	g_autofree char *list = NULL;

	if (!m->targets || !host_target ||
	    g_strv_contains((const char *const *)m->targets, host_target))
		return 0;
	list = g_strjoinv(",", m->targets);
	*err = g_strdup_printf("serves targets %s, not this QEMU's target %s",
			       list, host_target);
	return -ENOEXEC;
}

int mh_loader_check(const char *path, const char *name, GHashTable *overrides,
		    struct mh_module **out, char **err)
{
	g_autofree char *image = NULL;
	struct mh_module *mod;
	struct stat st;
	gsize size;
	int ret;

	ret = read_image(path, &image, &size, &st, err);
	if (ret)
		return ret;

	mod = g_new0(struct mh_module, 1);
	mod->file_st = st;
	mod->file = g_strdup(path);
	mod->scoreboards = g_ptr_array_new();
	mod->reg_imports = g_ptr_array_new();
	mod->reg_points = g_ptr_array_new();
	if (mh_script_is_file(path))
		ret = mh_script_meta(path, image, size, &mod->meta, err);
	else
		ret = image_meta(image, size, name, &mod->meta, &mod->qplugin,
				 err);
	if (ret)
		goto fail;
	ret = mh_meta_check_abi(mod->meta, err);
	if (ret)
		goto fail;
	ret = mh_meta_check_target(mod->meta, err);
	if (ret)
		goto fail;
	if (strcmp(mod->meta->name, name)) {
		*err = g_strdup_printf("metadata names module '%s', the file is "
				       "%s.so", mod->meta->name, name);
		ret = -EINVAL;
		goto fail;
	}
	mod->params = resolve_params(mod->meta, overrides, err);
	if (!mod->params) {
		ret = -EINVAL;
		goto fail;
	}
	/*
	 * A binary QEMU plugin's hooks are the layer's, a script's its
	 * engine's: both are set at map.
	 */
	ret = mod->qplugin || mh_script_is_file(path) ? 0 :
		check_ops_in_image(image, size, mod->meta, err);
	if (ret)
		goto fail;
	/* mh_loader_map() maps exactly the image that was checked. */
	mod->image = g_steal_pointer(&image);
	mod->image_size = size;
	*out = mod;
	return 0;
fail:
	mh_loader_close(mod);
	return ret;
}

#if defined(__x86_64__)
#define MH_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define MH_R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__aarch64__)
#define MH_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define MH_R_GLOB_DAT R_AARCH64_GLOB_DAT
#endif

/* Is [@at, @at + @len) inside a segment of type @type of @elf? */
static bool in_segment(Elf *elf, size_t nph, uint32_t type, uint64_t at,
		       uint64_t len, GElf_Phdr *seg)
{
	for (size_t i = 0; i < nph; i++) {
		if (!gelf_getphdr(elf, i, seg) || seg->p_type != type)
			continue;
		if (at >= seg->p_vaddr && seg->p_memsz >= len &&
		    at - seg->p_vaddr <= seg->p_memsz - len)
			return true;
	}
	return false;
}

/* Point the GOT slot at @at (an address of the mapped copy) to @fn. */
static int bind_slot(Elf *elf, size_t nph, uintptr_t base, uint64_t at,
		     void *fn, char **err)
{
	const uintptr_t page = sysconf(_SC_PAGESIZE);
	uintptr_t slot = base + at, pg = slot & ~(page - 1);
	bool ro = false;
	GElf_Phdr seg;

	if (!in_segment(elf, nph, PT_LOAD, at, sizeof(fn), &seg)) {
		*err = g_strdup("a relocation lies outside the loaded segments");
		return -ENOEXEC;
	}
	/* ld.so made the RELRO pages read-only, up to the last whole page. */
	if (in_segment(elf, nph, PT_GNU_RELRO, at, sizeof(fn), &seg))
		ro = pg < ((base + seg.p_vaddr + seg.p_memsz) & ~(page - 1));
	if (ro && mprotect((void *)pg, page, PROT_READ | PROT_WRITE)) {
		int e = errno;

		*err = g_strdup_printf("cannot rebind the module's calls: "
				       "mprotect: %s", g_strerror(e));
		return -e;
	}
	memcpy((void *)slot, &fn, sizeof(fn));
	if (ro)
		mprotect((void *)pg, page, PROT_READ);
	return 0;
}

#ifdef MH_R_JUMP_SLOT
/*
 * What a GOT slot of the module for undefined symbol @name, relocation
 * @type, should hold instead of what ld.so bound: 1 and *@fn, 0 to leave it,
 * or a negative errno and *@err.
 */
typedef int (*rebind_fn)(struct mh_module *mod, const char *name,
			 unsigned int type, void **fn, char **err);

/* Rewrite the module's GOT slots for the symbols @rebind picks. */
static int bind_calls(struct mh_module *mod, rebind_fn rebind, char **err)
{
	Elf *elf = elf_memory(mod->image, mod->image_size);
	struct link_map *lm;
	Elf_Scn *scn = NULL;
	size_t nph;
	int ret = 0;

	if (!elf || elf_getphdrnum(elf, &nph) ||
	    dlinfo(mod->handle, RTLD_DI_LINKMAP, &lm)) {
		*err = g_strdup("cannot read the mapped module's segments");
		ret = -ENOEXEC;
		goto out;
	}
	while (ret >= 0 && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *rel, *syms;
		GElf_Shdr sh, symsh;
		Elf_Scn *symscn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA ||
		    !sh.sh_entsize || !(symscn = elf_getscn(elf, sh.sh_link)) ||
		    !gelf_getshdr(symscn, &symsh) ||
		    !(rel = elf_getdata(scn, NULL)) ||
		    !(syms = elf_getdata(symscn, NULL)))
			continue;
		for (size_t i = 0; ret >= 0 && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *name;
			void *fn;

			if (!gelf_getrela(rel, i, &r) || !GELF_R_SYM(r.r_info) ||
			    !gelf_getsym(syms, GELF_R_SYM(r.r_info), &sym) ||
			    sym.st_shndx != SHN_UNDEF ||
			    !(name = elf_strptr(elf, symsh.sh_link, sym.st_name)))
				continue;
			ret = rebind(mod, name, GELF_R_TYPE(r.r_info), &fn, err);
			if (ret > 0)
				ret = bind_slot(elf, nph, lm->l_addr, r.r_offset,
						fn, err);
		}
	}
out:
	elf_end(elf);
	return MIN(ret, 0);
}

static bool is_got_slot(unsigned int type)
{
	return type == MH_R_JUMP_SLOT || type == MH_R_GLOB_DAT;
}

static int rebind_exit_call(struct mh_module *mod, const char *name,
			    unsigned int type, void **fn, char **err)
{
	(void)mod;
	(void)err;
	return is_got_slot(type) && (*fn = mh_guard_catcher(name)) ? 1 : 0;
}
#endif

/*
 * Bind the module's own calls to exit(), _exit() ... to the guard's
 * catchers, so that one made in a hook ends the hook rather than QEMU.
 * Its GOT slots for them (JUMP_SLOT and GLOB_DAT relocations) are written
 * after dlopen() resolved them; calls from the libraries it uses are not
 * the module's and stay as they are.
 */
static int bind_exit_calls(struct mh_module *mod, char **err)
{
#ifdef MH_R_JUMP_SLOT
	return bind_calls(mod, rebind_exit_call, err);
#else
	/* No GOT binding on this architecture: exit() is not contained. */
	(void)mod;
	(void)err;
	return 0;
#endif
}

/* -- QEMU plugins as QEMU's own build makes them ------------------------ */

/*
 * A plugin .so built against QEMU's header alone (no .modhost section,
 * not linked with the compatibility layer) calls qemu_plugin_*() by name:
 * when dlopen() binds them they reach QEMU itself, as if it were a second
 * plugin of QEMU, which it must not be.  So each load maps, besides the
 * plugin's private copy, a private copy of the layer built as a shared
 * object of its own (qcompat-bin.so beside modhost.so: its own statics
 * per instance), and points the plugin's GOT slots for qemu_plugin_*
 * there before any of its hooks runs.  A reference that is not a GOT slot
 * (a function's address in data) cannot be moved: such a plugin is
 * refused, as is one that calls a function the layer does not have.
 */
#define QPLUGIN_LAYER "qcompat-bin.so"
#define QPLUGIN_PREFIX "qemu_plugin_"

/*
 * modhost.so exports QEMU's two entries too: this section tells the host
 * itself apart, so a copy of it in dir is never loaded as a plugin.
 */
#define HOST_SECTION ".modhost_host"
static const char host_mark[] __attribute__((section(HOST_SECTION), used)) =
	"modhost";

/*
 * Does @image, which has no .modhost section, export both QEMU entries,
 * and is it not modhost itself?
 */
static bool qplugin_image(void *image, size_t size)
{
	Elf *elf = elf_memory(image, size);
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	int found = 0;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx))
		goto out;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		GElf_Sym sym;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && !strcmp(name, HOST_SECTION)) {
			found = 0;
			break;
		}
		if (sh.sh_type != SHT_DYNSYM || !sh.sh_entsize ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; found < 2 && i < sh.sh_size / sh.sh_entsize; i++) {
			if (!gelf_getsym(data, i, &sym) ||
			    sym.st_shndx == SHN_UNDEF ||
			    !(name = elf_strptr(elf, sh.sh_link, sym.st_name)))
				continue;
			found += !strcmp(name, "qemu_plugin_install") ||
				 !strcmp(name, "qemu_plugin_version");
		}
	}
out:
	if (elf)
		elf_end(elf);
	return found == 2;
}

/* What the layer itself would write in .modhost for module @name. */
static struct mh_meta *qplugin_meta(const char *name)
{
	struct mh_meta *m = meta_new();

	m->has_abi = true;
	m->abi_major = MODHOST_ABI_MAJOR;
	m->abi_minor = MODHOST_ABI_MINOR;
	m->name = g_strdup(name);
	m->version = g_strdup("0");
	m->license = g_strdup("NOASSERTION");
	m->description = g_strdup_printf("QEMU plugin %s (QEMU plugin API, "
					 "plugin binary)", name);
	m->any_params = true;
	return m;
}

static int qplugin_layer_read(char **err)
{
	g_autofree char *dir = NULL, *path = NULL, *why = NULL;
	Dl_info info;

	if (layer_image)
		return 0;
	if (!dladdr((void *)qplugin_layer_read, &info) || !info.dli_fname) {
		*err = g_strdup("cannot tell where modhost.so is");
		return -ENOENT;
	}
	dir = g_path_get_dirname(info.dli_fname);
	path = g_build_filename(dir, QPLUGIN_LAYER, NULL);
	if (read_image(path, &layer_image, &layer_size, NULL, &why)) {
		*err = g_strdup_printf("a plain QEMU plugin needs %s: %s", path,
				       why);
		return -ENOENT;
	}
	return 0;
}

#ifdef MH_R_JUMP_SLOT
static int rebind_api_call(struct mh_module *mod, const char *name,
			   unsigned int type, void **fn, char **err)
{
	if (!g_str_has_prefix(name, QPLUGIN_PREFIX))
		return 0;
	if (!is_got_slot(type)) {
		*err = g_strdup_printf("refers to %s other than by a call "
				       "(relocation type %u): cannot be bound "
				       "to the compatibility layer", name, type);
		return -ENOEXEC;
	}
	*fn = dlsym(mod->layer, name);
	if (!*fn) {
		*err = g_strdup_printf("calls %s, which QEMU plugin API version "
				       "%d does not have", name,
				       QEMU_PLUGIN_VERSION);
		return -ENOEXEC;
	}
	return 1;
}
#endif

#ifdef MH_R_JUMP_SLOT
static int qplugin_map(struct mh_module *mod, char **err)
{
	g_autofree char *layer_name = g_strdup_printf("%s-qcompat",
						       mod->meta->name);
	void (*bind)(void *install, const int *version);
	void *install, *version;
	int ret;

	ret = qplugin_layer_read(err);
	if (ret)
		return ret;
	mod->layer = open_copy(layer_name, layer_image, layer_size, err);
	if (!mod->layer)
		return -ENOEXEC;
	bind = (void (*)(void *, const int *))dlsym(mod->layer,
						    "mh_qcompat_bind");
	install = dlsym(mod->handle, "qemu_plugin_install");
	version = dlsym(mod->handle, "qemu_plugin_version");
	if (!bind || !install || !version) {
		*err = g_strdup_printf("%s lacks mh_qcompat_bind, or the plugin "
				       "its entries", QPLUGIN_LAYER);
		return -ENOEXEC;
	}
	ret = bind_calls(mod, rebind_api_call, err);
	if (ret)
		return ret;
	bind(install, version);
	return take_ops(mod, mod->layer, err);
}
#else
static int qplugin_map(struct mh_module *mod, char **err)
{
	(void)mod;
	*err = g_strdup("a plain QEMU plugin binary needs GOT binding, which "
			"this architecture lacks here: build it with obj-q");
	return -ENOTSUP;
}
#endif

int mh_loader_map(struct mh_module *mod, char **err)
{
	int ret;

	if (mh_script_is_file(mod->file)) {
		ret = mh_script_map(mod, err);
		g_clear_pointer(&mod->image, g_free);
		return ret;
	}
	/* Every check passed: only now may the module's code run. */
	mod->handle = open_copy(mod->meta->name, mod->image, mod->image_size,
				err);
	if (!mod->handle) {
		g_clear_pointer(&mod->image, g_free);
		return -ENOEXEC;
	}
	ret = bind_exit_calls(mod, err);
	if (!ret)
		ret = mod->qplugin ? qplugin_map(mod, err) :
			take_ops(mod, mod->handle, err);
	g_clear_pointer(&mod->image, g_free);
	return ret;
}

void mh_loader_close(struct mh_module *mod)
{
	if (!mod)
		return;
	/* A module whose hook crashed may hold anything: leave it mapped. */
	if (mod->handle && !mod->tainted)
		dlclose(mod->handle);
	if (mod->layer && !mod->tainted)
		dlclose(mod->layer);
	if (mod->script && !mod->tainted)
		mh_script_close(mod);
	g_free(mod->why);
	g_free(mod->said);
	g_free(mod->image);
	mh_meta_free(mod->meta);
	if (mod->params)
		g_hash_table_unref(mod->params);
	g_ptr_array_unref(mod->scoreboards);
	g_ptr_array_unref(mod->reg_imports);
	g_ptr_array_unref(mod->reg_points);
	g_free(mod->reg_error);
	g_free(mod->file);
	g_free(mod);
}
