// SPDX-License-Identifier: MIT
/*
 * The symbol registry: exports, imports and PPP callback points.
 *
 * Every exported symbol MODULE.NAME has one record that lives until QEMU
 * exits.  An import gets the record's stub: a few bytes of code,
 * "jmp *target", where target is the provider's current function.  The
 * stub's address is the stable pointer importers keep; a reload only
 * rewrites the target (one aligned 8-byte store), so a call costs one
 * extra direct jump over a plain indirect call.  When the provider is
 * gone, the target is a libffi closure built from the signature that
 * returns zero and reports import_dead: one per signature the symbol was
 * exported with, never one built for another.  While a live importer
 * holds the stub, a provider that comes back must export the symbol with
 * the signature it was imported with, or its load is refused.
 *
 * Stubs live in memory from ffi_closure_alloc(), which gives a writable
 * and an executable view of the same bytes (W^X-safe where libffi is).
 *
 * A PPP point holds an immutable array of handlers.  Adding or removing a
 * handler publishes a new array; the old one is freed at the next quiesce,
 * when no vCPU can be walking it, so a provider running a point (even one
 * whose handler unregisters itself) always sees a whole array.  With
 * accounting=on each handler is published as a libffi closure that times
 * the call and charges its owner, not the provider running the point.
 *
 * Locking: reg_lock guards everything here.  It nests inside mh_lock and
 * is never held while module code runs.
 */
#include <errno.h>
#include <ffi.h>
#include <string.h>

#include "internal.h"

struct stub {
	void *rw;		/* writable view */
	void *code;		/* the stable function pointer */
	void **target;		/* in the writable view */
};

struct symbol {
	char *module, *name;
	char *sig;		/* the provider's, once it exported it */
	void (*impl)(void);	/* NULL while the provider is not live */
	struct mh_module *provider;	/* the live instance exporting it */
	struct stub stub;	/* made at the first import */
	GPtrArray *importers;	/* module names, one per import edge */
	/*
	 * Zero-returning stand-ins, made when the provider goes, one per
	 * signature (signature -> struct stand_in).  Never freed: a stub may
	 * point at one while a vCPU runs.
	 */
	GHashTable *dead;
	guint dead_calls;
};

struct stand_in {
	struct symbol *sym;
	ffi_closure *closure;
	void *code;
	struct mh_sig_ffi fs;
};

/*
 * One registered PPP handler.  With accounting=on, @code is a closure
 * that times @fn and charges @entry; otherwise @code is @fn.
 */
struct handler {
	void (*fn)(void);	/* what the owner registered */
	void (*code)(void);	/* what the handler set holds */
	ffi_closure *closure;
	struct mh_entry *entry;
	struct mh_sig_ffi fs;
};

struct point {
	struct mh_ppp_point pub;
	char *module, *name, *sig;
	bool declared;		/* by the live provider */
	GPtrArray *owners;	/* module name of each handler, in order */
	GPtrArray *handlers;	/* struct handler, parallel to owners */
};

static GMutex reg_lock;
static GHashTable *symbols;	/* "module.name" -> struct symbol */
static GHashTable *points;	/* "module.name" -> struct point */
static GPtrArray *retired;	/* handler sets to free at the next quiesce */
static GPtrArray *retired_handlers;	/* struct handler, likewise */
static uint64_t reg_gen;	/* see mh_registry_gen(); written under reg_lock */
static const struct mh_ppp_handlers no_handlers;

static char *key(const char *module, const char *name)
{
	return g_strdup_printf("%s.%s", module, name);
}

/* -- stubs --------------------------------------------------------------- */

static int stub_make(struct stub *s, char **err)
{
	uint8_t *p;
	uintptr_t q;

	s->rw = ffi_closure_alloc(sizeof(ffi_closure), &s->code);
	if (!s->rw) {
		*err = g_strdup("cannot allocate executable memory for a stub");
		return -ENOMEM;
	}
	/* jmp *disp32(%rip), the target being the next 8-aligned qword */
	p = s->rw;
	q = ((uintptr_t)p + 6 + 7) & ~(uintptr_t)7;
	p[0] = 0xff;
	p[1] = 0x25;
	uint32_t disp = q - ((uintptr_t)p + 6);
	memcpy(p + 2, &disp, 4);
	memset(p + 6, 0xcc, q - ((uintptr_t)p + 6));
	s->target = (void **)q;
	return 0;
}

static void stub_point(struct stub *s, void *fn)
{
	if (s->rw)
		__atomic_store_n(s->target, fn, __ATOMIC_RELEASE);
}

/* -- zero-returning stand-ins -------------------------------------------- */

/* Build @f from @sig; 0, or -EINVAL if either is unusable. */
static int ffi_sig_prep(struct mh_sig_ffi *f, const char *sig)
{
	g_autofree char *err = NULL;

	return mh_sig_ffi_prep(f, sig, &err) ? -EINVAL : 0;
}

/* A closure over @f calling @fun(cif, ret, args, @udata); its code or NULL. */
static void *closure_make(ffi_closure **closure, struct mh_sig_ffi *f,
			  void (*fun)(ffi_cif *, void *, void **, void *),
			  void *udata)
{
	void *code;

	*closure = ffi_closure_alloc(sizeof(ffi_closure), &code);
	if (!*closure)
		return NULL;
	if (ffi_prep_closure_loc(*closure, &f->cif, fun, udata, code) != FFI_OK) {
		ffi_closure_free(*closure);
		*closure = NULL;
		return NULL;
	}
	return code;
}

static void dead_call(ffi_cif *cif, void *ret, void **args, void *udata)
{
	struct symbol *s = ((struct stand_in *)udata)->sym;

	(void)args;
	/* libffi widens small integer returns to a full ffi_arg */
	if (cif->rtype != &ffi_type_void)
		memset(ret, 0, MAX(cif->rtype->size, sizeof(ffi_arg)));
	if (g_atomic_int_add(&s->dead_calls, 1) == 0) {
		GString *ev = mh_event_new("import_dead");

		mh_event_str(ev, "module", s->module);
		mh_event_str(ev, "symbol", s->name);
		mh_event_int(ev, "count", 1);
		mh_event_emit(ev);
		mh_err("%s.%s called after %s was unloaded: returns zero",
		       s->module, s->name, s->module);
	}
}

/* The stand-in for @s as exported now (s->sig): built once per signature. */
static void *dead_code(struct symbol *s)
{
	struct stand_in *si;

	if (!s->dead)
		s->dead = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						NULL);
	si = g_hash_table_lookup(s->dead, s->sig);
	if (si)
		return si->code;
	si = g_new0(struct stand_in, 1);
	si->sym = s;
	if (ffi_sig_prep(&si->fs, s->sig) ||
	    !(si->code = closure_make(&si->closure, &si->fs, dead_call, si))) {
		mh_err("%s.%s: cannot build its stand-in for %s", s->module,
		       s->name, s->sig);
		g_free(si);
		return NULL;
	}
	g_hash_table_insert(s->dead, g_strdup(s->sig), si);
	return si->code;
}

static void handler_free(gpointer p)
{
	struct handler *h = p;

	if (h->closure)
		ffi_closure_free(h->closure);
	g_free(h);
}

/* The provider is gone: calls reach the stand-in from now on. */
static void symbol_retire(struct symbol *s)
{
	__atomic_add_fetch(&reg_gen, 1, __ATOMIC_RELEASE);
	s->impl = NULL;
	s->provider = NULL;
	if (!s->stub.rw)
		return;
	s->dead_calls = 0;
	stub_point(&s->stub, dead_code(s));
}

/* -- records -------------------------------------------------------------- */

static struct symbol *symbol_get_locked(const char *module, const char *name) /* Must hold reg_lock. */
{
	g_autofree char *k = key(module, name);
	struct symbol *s = g_hash_table_lookup(symbols, k);

	if (!s) {
		s = g_new0(struct symbol, 1);
		s->module = g_strdup(module);
		s->name = g_strdup(name);
		s->importers = g_ptr_array_new_with_free_func(g_free);
		g_hash_table_insert(symbols, g_steal_pointer(&k), s);
	}
	return s;
}

static struct point *point_get_locked(const char *module, const char *name) /* Must hold reg_lock. */
{
	g_autofree char *k = key(module, name);
	struct point *p = g_hash_table_lookup(points, k);

	if (!p) {
		p = g_new0(struct point, 1);
		p->module = g_strdup(module);
		p->name = g_strdup(name);
		p->pub.handlers = &no_handlers;
		p->owners = g_ptr_array_new_with_free_func(g_free);
		p->handlers = g_ptr_array_new_with_free_func(handler_free);
		g_hash_table_insert(points, g_steal_pointer(&k), p);
	}
	return p;
}

void mh_registry_init(void)
{
	symbols = g_hash_table_new(g_str_hash, g_str_equal);
	points = g_hash_table_new(g_str_hash, g_str_equal);
	retired = g_ptr_array_new_with_free_func(g_free);
	retired_handlers = g_ptr_array_new_with_free_func(handler_free);
}

static const char *owner(struct mh_module *m)
{
	return m->meta->name;
}

/* -- binding a module ------------------------------------------------------ */

static const struct mh_export *find_export(struct mh_module *m, const char *name)
{
	for (const struct mh_export *e = m->ops.exports;
	     e && e < m->ops.exports_end; e++) {
		if (e->name && !strcmp(e->name, name))
			return e;
	}
	return NULL;
}

static const struct mh_meta_sym *meta_sym(GPtrArray *list, const char *module,
					  const char *name)
{
	for (guint i = 0; i < list->len; i++) {
		const struct mh_meta_sym *s = g_ptr_array_index(list, i);

		if (!g_strcmp0(s->module, module) && !strcmp(s->name, name))
			return s;
	}
	return NULL;
}

/*
 * One entry of the code's export or import table against the metadata:
 * @s is its metadata entry (NULL if none), @has_fn whether it has code (an
 * export) or a slot (an import).
 */
static int check_entry(const char *kind, const char *name,
		       const struct mh_meta_sym *s, bool has_fn,
		       const char *sig, char **err)
{
	if (s && has_fn && !g_strcmp0(s->sig, sig))
		return 0;
	*err = g_strdup_printf("inconsistent: %s '%s' differs from the metadata",
			       kind, name ? name : "?");
	return -EINVAL;
}

static int check_count(const char *kind, size_t n, GPtrArray *meta,
		       char **err)
{
	if (n == meta->len)
		return 0;
	*err = g_strdup_printf("inconsistent: %zu %ss in the code, %u in the "
			       "metadata", n, kind, meta->len);
	return -EINVAL;
}

/* The code's tables must say what the metadata says, entry for entry. */
static int check_tables(struct mh_module *m, char **err)
{
	size_t n = 0;

	for (const struct mh_export *e = m->ops.exports;
	     e && e < m->ops.exports_end; e++, n++) {
		const struct mh_meta_sym *s = e->name ?
			meta_sym(m->meta->exports, NULL, e->name) : NULL;

		if (check_entry("export", e->name, s, e->fn, e->sig, err))
			return -EINVAL;
	}
	if (check_count("export", n, m->meta->exports, err))
		return -EINVAL;
	n = 0;
	for (const struct mh_import *i = m->ops.imports;
	     i && i < m->ops.imports_end; i++, n++) {
		const struct mh_meta_sym *s = i->module && i->name ?
			meta_sym(m->meta->imports, i->module, i->name) : NULL;

		if (check_entry("import", i->name, s, i->slot, i->sig, err))
			return -EINVAL;
	}
	return check_count("import", n, m->meta->imports, err);
}

/*
 * A new version must keep every export someone imports, unchanged.  A
 * fresh load (not @reload) may find importers too: those left behind by a
 * forced unload, or by a rollback that ended in an unload.  Their stubs
 * reach the stand-in; the new provider may leave an export out (the stub
 * stays dead), but must not wire a changed signature into them.
 */
static int check_exports_locked(struct mh_module *m, bool reload, char **err) /* Must hold reg_lock. */
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, symbols);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct symbol *s = v;
		const struct mh_export *e;
		g_autofree char *users = NULL;

		if (strcmp(s->module, owner(m)) || !s->importers->len)
			continue;
		e = find_export(m, s->name);
		if (e ? !strcmp(e->sig, s->sig) : !reload)
			continue;
		users = mh_join_unique(s->importers);
		if (e)
			*err = g_strdup_printf("export '%s' changes from %s to %s, "
					       "but %s imports it", s->name,
					       s->sig, e->sig, users);
		else
			*err = g_strdup_printf("export '%s' is gone, but %s "
					       "imports it", s->name, users);
		return -EINVAL;
	}
	return 0;
}

/* Resolve one import for @m; the stable pointer, or NULL and *err. */
static void *import_locked(struct mh_module *m, const char *module,
			   const char *name, const char *sig, char **err) /* Must hold reg_lock. */
{
	g_autofree char *k = key(module, name);
	struct symbol *s = g_hash_table_lookup(symbols, k);

	if (!strcmp(module, owner(m))) {
		*err = g_strdup_printf("%s cannot import from itself", k);
		return NULL;
	}
	if (!s || !s->impl) {
		*err = g_strdup_printf("%s is not exported (is %s loaded, and does "
				       "it export %s?)", k, module, name);
		return NULL;
	}
	if (strcmp(s->sig, sig)) {
		*err = g_strdup_printf("%s is %s, imported as %s", k, s->sig, sig);
		return NULL;
	}
	if (!s->stub.rw) {
		if (stub_make(&s->stub, err))
			return NULL;
		stub_point(&s->stub, (void *)s->impl);
	}
	g_ptr_array_add(s->importers, g_strdup(owner(m)));
	g_ptr_array_add(m->reg_imports, s);
	return s->stub.code;
}

int mh_registry_check_reload(struct mh_module *m, char **err)
{
	int ret;

	g_mutex_lock(&reg_lock);
	ret = check_exports_locked(m, true, err);
	g_mutex_unlock(&reg_lock);
	return ret;
}

int mh_registry_bind(struct mh_module *m, bool reload, char **err)
{
	int ret;

	ret = check_tables(m, err);
	if (ret)
		return ret;
	g_mutex_lock(&reg_lock);
	ret = check_exports_locked(m, reload, err);
	for (const struct mh_import *i = m->ops.imports;
	     !ret && i && i < m->ops.imports_end; i++) {
		void *p = import_locked(m, i->module, i->name, i->sig, err);

		if (!p)
			ret = -ENOENT;
		else
			*i->slot = p;
	}
	g_mutex_unlock(&reg_lock);
	if (ret)
		mh_registry_release(m);
	return ret;
}

void mh_registry_publish(struct mh_module *m)
{
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&reg_lock);
	for (const struct mh_export *e = m->ops.exports;
	     e && e < m->ops.exports_end; e++) {
		struct symbol *s = symbol_get_locked(owner(m), e->name);

		g_free(s->sig);
		s->sig = g_strdup(e->sig);
		s->impl = e->fn;
		s->provider = m;
		stub_point(&s->stub, (void *)e->fn);
	}
	/* What hypercall routes prepared for the old exports is stale now. */
	__atomic_add_fetch(&reg_gen, 1, __ATOMIC_RELEASE);
	/* What an earlier version exported and this one does not. */
	g_hash_table_iter_init(&it, symbols);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct symbol *s = v;

		if (!strcmp(s->module, owner(m)) && s->impl &&
		    !find_export(m, s->name))
			symbol_retire(s);
	}
	g_mutex_unlock(&reg_lock);
}

void mh_registry_retire(const char *module)
{
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&reg_lock);
	g_hash_table_iter_init(&it, symbols);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct symbol *s = v;

		if (!strcmp(s->module, module) && s->impl)
			symbol_retire(s);
	}
	g_mutex_unlock(&reg_lock);
}

/* -- PPP ------------------------------------------------------------------ */

static void ppp_timed(ffi_cif *cif, void *ret, void **args, void *udata)
{
	struct handler *h = udata;
	struct mh_acct_frame f;

	mh_api_acct_enter(&f);
	ffi_call(cif, FFI_FN(h->fn), ret, args);
	mh_api_acct_leave(&f, h->entry);
}

/*
 * @fn as @m registers it on @p: with accounting=on, behind a closure that
 * charges @m for its time (the provider calls it directly, from inside
 * its own timed callback).  NULL and *err if that cannot be built.
 */
static struct handler *handler_new(struct point *p, struct mh_module *m,
				   void (*fn)(void), char **err)
{
	struct handler *h = g_new0(struct handler, 1);
	void *code;

	h->fn = fn;
	h->code = fn;
	h->entry = m->entry;
	if (!mh_api_accounting() || !h->entry)
		return h;
	if (ffi_sig_prep(&h->fs, p->sig) ||
	    !(code = closure_make(&h->closure, &h->fs, ppp_timed, h))) {
		*err = g_strdup_printf("PPP %s.%s: cannot build the accounting "
				       "trampoline", p->module, p->name);
		g_free(h);
		return NULL;
	}
	h->code = (void (*)(void))code;
	return h;
}

/*
 * Publish @p's handlers with @add appended, or else with the first of
 * @who's handlers that is @fn (any, if NULL) removed.
 */
static int point_update_locked(struct point *p, struct handler *add,
			       void (*fn)(void), const char *who) /* Must hold reg_lock. */
{
	const struct mh_ppp_handlers *old = p->pub.handlers;
	uint32_t n = old->n, at = n;
	struct mh_ppp_handlers *set;

	if (!add) {
		for (at = 0; at < n; at++) {
			struct handler *h = g_ptr_array_index(p->handlers, at);

			if ((!fn || h->fn == fn) &&
			    !strcmp(g_ptr_array_index(p->owners, at), who))
				break;
		}
		if (at == n)
			return -ENOENT;
	}
	set = g_malloc(sizeof(*set) + sizeof(set->fn[0]) * (add ? n + 1 : n - 1));
	set->n = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (i != at || add)
			set->fn[set->n++] = old->fn[i];
	}
	if (add) {
		set->fn[set->n++] = add->code;
		g_ptr_array_add(p->owners, g_strdup(who));
		g_ptr_array_add(p->handlers, add);
	} else {
		g_ptr_array_remove_index(p->owners, at);
		/* A vCPU may be running it until the next quiesce. */
		g_ptr_array_add(retired_handlers,
				g_ptr_array_steal_index(p->handlers, at));
	}
	__atomic_store_n(&p->pub.handlers, set, __ATOMIC_RELEASE);
	if (old != &no_handlers)
		g_ptr_array_add(retired, (gpointer)old);
	return 0;
}

struct mh_ppp_point *mh_registry_ppp_declare(struct mh_module *m,
					     const char *name, const char *sig,
					     char **err)
{
	struct point *p;

	if (!mh_valid_param_name(name) || !mh_sig_valid(sig)) {
		*err = g_strdup_printf("PPP point '%s' with signature '%s': bad "
				       "name or signature", name, sig);
		return NULL;
	}
	g_mutex_lock(&reg_lock);
	p = point_get_locked(owner(m), name);
	if (p->sig && strcmp(p->sig, sig)) {
		*err = g_strdup_printf("PPP point %s.%s is %s, now declared as %s",
				       p->module, name, p->sig, sig);
		g_mutex_unlock(&reg_lock);
		return NULL;
	}
	if (!p->sig)
		p->sig = g_strdup(sig);
	p->declared = true;
	g_ptr_array_add(m->reg_points, p);
	g_mutex_unlock(&reg_lock);
	return &p->pub;
}

int mh_registry_ppp_register(struct mh_module *m, const char *module,
			     const char *name, const char *sig,
			     void (*fn)(void), char **err)
{
	g_autofree char *k = key(module, name);
	struct point *p;
	int ret;

	if (!fn) {
		*err = g_strdup_printf("PPP %s: no handler", k);
		return -EINVAL;
	}
	g_mutex_lock(&reg_lock);
	p = g_hash_table_lookup(points, k);
	if (!p || !p->declared) {
		*err = g_strdup_printf("PPP point %s is not declared (is %s "
				       "loaded?)", k, module);
		ret = -ENOENT;
	} else if (strcmp(p->sig, sig)) {
		*err = g_strdup_printf("PPP point %s is %s, registered as %s", k,
				       p->sig, sig);
		ret = -EINVAL;
	} else {
		struct handler *h = handler_new(p, m, fn, err);

		ret = h ? point_update_locked(p, h, NULL, owner(m)) : -ENOMEM;
	}
	g_mutex_unlock(&reg_lock);
	return ret;
}

int mh_registry_ppp_unregister(struct mh_module *m, const char *module,
			       const char *name, void (*fn)(void))
{
	g_autofree char *k = key(module, name);
	struct point *p;
	int ret = -ENOENT;

	g_mutex_lock(&reg_lock);
	p = g_hash_table_lookup(points, k);
	if (p && fn)
		ret = point_update_locked(p, NULL, fn, owner(m));
	g_mutex_unlock(&reg_lock);
	return ret;
}

void *mh_registry_import(struct mh_module *m, const char *module,
			 const char *name, const char *sig, char **err)
{
	void *p;

	if (!mh_sig_valid(sig)) {
		*err = g_strdup_printf("import %s.%s: bad signature '%s'", module,
				       name, sig);
		return NULL;
	}
	g_mutex_lock(&reg_lock);
	p = import_locked(m, module, name, sig, err);
	g_mutex_unlock(&reg_lock);
	return p;
}

char *mh_registry_ppp_sig(const char *module, const char *name)
{
	g_autofree char *k = key(module, name);
	struct point *p;
	char *sig = NULL;

	g_mutex_lock(&reg_lock);
	p = g_hash_table_lookup(points, k);
	if (p && p->declared)
		sig = g_strdup(p->sig);
	g_mutex_unlock(&reg_lock);
	return sig;
}

static struct symbol *live_locked(const char *module, const char *name) /* Must hold reg_lock. */
{
	g_autofree char *heap = NULL;
	char buf[256];
	const char *k = buf;
	struct symbol *s;

	/* Hypercalls come here on every call: no allocation if it fits. */
	if ((size_t)g_snprintf(buf, sizeof(buf), "%s.%s", module, name) >=
	    sizeof(buf))
		k = heap = key(module, name);
	s = g_hash_table_lookup(symbols, k);
	return s && s->impl ? s : NULL;
}

/*
 * For hypercall routes (hypercall.c): what export @module.@name calls now.
 * Called on a vCPU; the provider cannot go before the call returns, since
 * modules only go while every vCPU is stopped.
 */
int mh_registry_current(const char *module, const char *name,
			void (**fn)(void), char **sig,
			struct mh_module **provider)
{
	struct symbol *s;
	int ret = -ENOENT;

	g_mutex_lock(&reg_lock);
	s = live_locked(module, name);
	if (s) {
		*fn = s->impl;
		*sig = g_strdup(s->sig);
		if (provider)
			*provider = s->provider;
		ret = 0;
	}
	g_mutex_unlock(&reg_lock);
	return ret;
}

uint64_t mh_registry_gen(void)
{
	return __atomic_load_n(&reg_gen, __ATOMIC_ACQUIRE);
}

/* -- going away ----------------------------------------------------------- */

void mh_registry_release(struct mh_module *m)
{
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&reg_lock);
	for (guint i = 0; i < m->reg_imports->len; i++) {
		struct symbol *s = g_ptr_array_index(m->reg_imports, i);

		for (guint j = 0; j < s->importers->len; j++) {
			if (!strcmp(g_ptr_array_index(s->importers, j), owner(m))) {
				g_ptr_array_remove_index(s->importers, j);
				break;
			}
		}
	}
	g_ptr_array_set_size(m->reg_imports, 0);
	for (guint i = 0; i < m->reg_points->len; i++)
		((struct point *)g_ptr_array_index(m->reg_points, i))->declared = false;
	g_ptr_array_set_size(m->reg_points, 0);
	/* Handlers leave with their owner. */
	g_hash_table_iter_init(&it, points);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		while (!point_update_locked(v, NULL, NULL, owner(m)))
			;
	}
	g_mutex_unlock(&reg_lock);
}

void mh_registry_users(const char *module, GPtrArray *users)
{
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&reg_lock);
	g_hash_table_iter_init(&it, symbols);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct symbol *s = v;

		if (strcmp(s->module, module))
			continue;
		for (guint i = 0; i < s->importers->len; i++)
			g_ptr_array_add(users,
					g_strdup(g_ptr_array_index(s->importers, i)));
	}
	g_hash_table_iter_init(&it, points);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct point *p = v;

		if (strcmp(p->module, module))
			continue;
		for (guint i = 0; i < p->owners->len; i++)
			g_ptr_array_add(users,
					g_strdup(g_ptr_array_index(p->owners, i)));
	}
	g_mutex_unlock(&reg_lock);
}

static void json_users(GString *json, GPtrArray *names)
{
	g_autofree char *joined = mh_join_unique(names);
	g_auto(GStrv) users = g_strsplit(joined, ", ", -1);

	mh_json_key(json, "users");
	mh_json_arr_begin(json);
	for (char **u = users; *u && **u; u++)
		mh_json_str(json, *u);
	mh_json_arr_end(json);
}

/* One {"name":...,"kind":...} object of mh_registry_describe(), left open. */
static void json_open(GString *json, const char *name, const char *kind,
		      const char *sig, const char *provider, bool live)
{
	mh_json_obj_begin(json);
	mh_json_kv_str(json, "name", name);
	mh_json_kv_str(json, "kind", kind);
	mh_json_kv_str(json, "signature", sig);
	mh_json_kv_str(json, "provider", provider);
	mh_json_kv_bool(json, "live", live);
}

void mh_registry_describe(GString *json)
{
	GHashTableIter it;
	gpointer k, v;

	g_mutex_lock(&reg_lock);
	mh_json_arr_begin(json);
	g_hash_table_iter_init(&it, symbols);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct symbol *s = v;

		if (!s->sig)
			continue;
		json_open(json, k, "export", s->sig, s->module, s->impl);
		mh_json_kv_uint(json, "dead_calls",
				g_atomic_int_get(&s->dead_calls));
		json_users(json, s->importers);
		mh_json_obj_end(json);
	}
	g_hash_table_iter_init(&it, points);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		struct point *p = v;

		if (!p->sig)
			continue;
		json_open(json, k, "ppp", p->sig, p->module, p->declared);
		mh_json_kv_uint(json, "handlers", p->pub.handlers->n);
		json_users(json, p->owners);
		mh_json_obj_end(json);
	}
	mh_json_arr_end(json);
	g_mutex_unlock(&reg_lock);
}

void mh_registry_quiesced(void)
{
	g_mutex_lock(&reg_lock);
	g_ptr_array_set_size(retired, 0);
	g_ptr_array_set_size(retired_handlers, 0);
	g_mutex_unlock(&reg_lock);
}
