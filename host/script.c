// SPDX-License-Identifier: MIT
/*
 * Scripts as modules: the host's side of NAME.py (the services it lends
 * the engine are in scripthost.c).
 *
 * A script is a module whose metadata the host reads from its text (no
 * code of it runs for that) and whose hooks a script engine provides.  The
 * engine lives in its own shared object, modhost-python.so beside
 * modhost.so, linked with libpython: the host dlopens it when the first
 * script is mapped, so that QEMU, the host and C modules pay nothing for
 * Python until a script is used.  QEMU opens the host with local binding,
 * so the engine cannot reach the host's functions by name: it gets
 * struct mh_script_host, the module API table and the few host services a
 * module's API table does not have (events, reasons for refusals).
 *
 * engine_lock guards the engine's loading; once loaded it stays until
 * QEMU exits (an interpreter cannot be unloaded).
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

#define ENGINE_FILE "modhost-python.so"
/* How much of a script's head is searched for __version__ and the like. */
#define META_SCAN_MAX (64u << 10)

static GMutex engine_lock;
static const struct mh_script_engine *engine;
static char *engine_error;	/* why it could not be loaded, said once */

bool mh_script_is_file(const char *path)
{
	return path && g_str_has_suffix(path, MH_SCRIPT_SUFFIX);
}

/* -- metadata from the text ------------------------------------------------- */

/* A top-level `__KEY__ = "value"` of @text, or NULL. */
static char *dunder(const char *text, size_t len, const char *key)
{
	g_autofree char *pat = g_strdup_printf(
		"^__%s__[ \\t]*=[ \\t]*(['\"])([\\x20-\\x7e]{1,64}?)\\1[ \\t]*(#.*)?$",
		key);
	g_autoptr(GRegex) re = g_regex_new(pat, G_REGEX_MULTILINE, 0, NULL);
	g_autoptr(GMatchInfo) mi = NULL;

	if (!re || !g_regex_match_full(re, text, MIN(len, META_SCAN_MAX), 0, 0,
				       &mi, NULL))
		return NULL;
	return g_match_info_fetch(mi, 2);
}

/* The first line of the module's docstring, if it opens the file. */
static char *docstring(const char *text, size_t len)
{
	g_autoptr(GRegex) re = g_regex_new(
		"\\A(?:[ \\t]*(?:#[^\\n]*)?\\n)*[rR]?(\"\"\"|''')[ \\t\\n]*"
		"([^\\n]{1,120}?)[ \\t]*(?:\\n|\\1)", 0, 0, NULL);
	g_autoptr(GMatchInfo) mi = NULL;

	if (!re || !g_regex_match_full(re, text, MIN(len, META_SCAN_MAX), 0, 0,
				       &mi, NULL))
		return NULL;
	return g_match_info_fetch(mi, 2);
}

int mh_script_meta(const char *path, const char *text, size_t len,
		   struct mh_meta **out, char **err)
{
	g_autofree char *base = g_path_get_basename(path);
	const char *bad;
	struct mh_meta *m;
	size_t name_len;

	/* Python reads a file as UTF-8 unless told otherwise: we say UTF-8. */
	if (!g_utf8_validate_len(text, len, &bad)) {
		*err = g_strdup_printf("not UTF-8 text: %s at byte %zu",
				       *bad ? "an invalid sequence" : "a NUL byte",
				       (size_t)(bad - text));
		return -EINVAL;
	}
	name_len = strlen(base) - strlen(MH_SCRIPT_SUFFIX);
	if (!mh_valid_module_name(base, name_len)) {
		*err = g_strdup_printf("'%s' is not NAME%s with NAME a module name",
				       base, MH_SCRIPT_SUFFIX);
		return -EINVAL;
	}
	m = g_new0(struct mh_meta, 1);
	m->has_abi = true;
	m->abi_major = MODHOST_ABI_MAJOR;
	m->abi_minor = MODHOST_ABI_MINOR;
	m->name = g_strndup(base, name_len);
	m->version = dunder(text, len, "version");
	if (!m->version)
		m->version = g_strdup("0");
	m->license = dunder(text, len, "license");
	m->description = docstring(text, len);
	m->depends = g_ptr_array_new_with_free_func(g_free);
	m->params = g_ptr_array_new();
	m->exports = g_ptr_array_new();
	m->imports = g_ptr_array_new();
	/* A script reads its parameters by name: any may be given. */
	m->any_params = true;
	*out = m;
	return 0;
}

/* -- the engine ---------------------------------------------------------------- */

static const struct mh_script_host *script_host;

void mh_script_set_host(const struct mh_script_host *h)
{
	script_host = h;
}

/* The engine's file: beside the modhost.so QEMU loaded. */
static char *engine_path(void)
{
	Dl_info info;
	g_autofree char *dir = NULL;

	if (!dladdr((void *)engine_path, &info) || !info.dli_fname)
		return g_strdup(ENGINE_FILE);
	dir = g_path_get_dirname(info.dli_fname);
	return g_build_filename(dir, ENGINE_FILE, NULL);
}

static int engine_load_locked(char **err) /* Must hold engine_lock. */
{
	g_autofree char *path = NULL;
	mh_script_engine_entry entry;
	void *h;

	if (engine)
		return 0;
	if (engine_error) {
		*err = g_strdup(engine_error);
		return -ENOEXEC;
	}
	if (!script_host) {
		*err = g_strdup("scripts run in the host only");
		return -ENOEXEC;
	}
	path = engine_path();
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		engine_error = g_strdup_printf("no Python script engine: %s",
					       dlerror());
		goto fail;
	}
	entry = (mh_script_engine_entry)dlsym(h, MH_SCRIPT_ENGINE_ENTRY);
	if (!entry) {
		engine_error = g_strdup_printf("%s: no %s", path,
					       MH_SCRIPT_ENGINE_ENTRY);
		goto fail;
	}
	engine = entry(script_host, &engine_error);
	if (!engine)
		goto fail;
	script_host->msg("Python script engine loaded (%s)", path);
	return 0;
fail:
	/* Never dlclose()d: a half-started interpreter may hold anything. */
	if (!engine_error)
		engine_error = g_strdup("the Python script engine did not start");
	*err = g_strdup(engine_error);
	return -ENOEXEC;
}

int mh_script_map(struct mh_module *mod, char **err)
{
	int ret;

	g_mutex_lock(&engine_lock);
	ret = engine_load_locked(err);
	g_mutex_unlock(&engine_lock);
	if (ret)
		return ret;
	return engine->open(mod, err);
}

void mh_script_close(struct mh_module *mod)
{
	if (engine && mod->script)
		engine->close(mod);
	mod->script = NULL;
}
