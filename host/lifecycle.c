// SPDX-License-Identifier: MIT
/*
 * Module lifecycle: states, dependencies, load, unload, reload, rollback
 * and state handoff.
 *
 * A request runs in two halves.  The requester's half (a host thread, or
 * QEMU's main thread at start) opens the files and runs prepare() while the
 * guest runs, then queues the work and waits.  The applying half runs with
 * every vCPU stopped (quiesce.c) and calls init/exit/save/restore, so the
 * set of live modules never changes under a running vCPU.
 *
 * States (struct mh_entry): UNFORMED -> COMING (in init) -> LIVE ->
 * GOING (in exit) -> UNFORMED.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

enum req_kind { REQ_LOAD, REQ_RELOAD, REQ_UNLOAD };

struct request {
	enum req_kind kind;
	char *name;
	struct mh_module *mod;	/* the prepared instance (load, reload) */
	bool force;
	enum mh_origin from;
	bool done;
	int result;
	char *error;		/* why it failed, for the control socket */
};

static GMutex mh_lock;		/* entries, live, queue, request results */
static GCond mh_cond;		/* a request was applied */
static GMutex req_lock;		/* one requester at a time */
static GHashTable *entries;	/* name -> struct mh_entry */
static GPtrArray *live;		/* struct mh_entry, in load order */
static GQueue queue = G_QUEUE_INIT;
static const struct mh_host_args *args;
static bool shutting_down;

/* The request this thread applies, and what notes its errors (at the end). */
static __thread struct request *applying_req;
static void applying_set(struct request *r);
static void note_error(char *error);

static const char *const origin_names[] = {
	[MH_FROM_START] = "start",
	[MH_FROM_WATCH] = "watch",
	[MH_FROM_IMPORT] = "import",
	[MH_FROM_CTL] = "ctl",
	[MH_FROM_GUEST] = "guest",
};

const char *mh_module_dir(void)
{
	return args->dir;
}

static struct mh_entry *entry_get_locked(const char *name) /* Must hold mh_lock. */
{
	struct mh_entry *e = g_hash_table_lookup(entries, name);

	if (!e) {
		e = g_new0(struct mh_entry, 1);
		e->name = g_strdup(name);
		g_hash_table_insert(entries, e->name, e);
	}
	return e;
}

/* This thread applies requests, holding mh_lock (module hooks run here). */
static __thread bool applying;
/*
 * Instances whose init runs now, innermost last (an init may load a module
 * it requires); under mh_lock.  Only mh_lifecycle_owner() looks at them.
 */
static GQueue initialising = G_QUEUE_INIT;
/* This thread runs the exit hooks at QEMU exit, holding mh_lock. */
static __thread bool exiting_hooks;

static bool is_live_locked(const char *name) /* Must hold mh_lock. */
{
	struct mh_entry *e = g_hash_table_lookup(entries, name);

	return e && e->state == MH_LIVE;
}

bool mh_lifecycle_applying(void)
{
	return applying;
}

bool mh_module_is_loaded(const char *name)
{
	bool ret;

	if (applying)
		return is_live_locked(name);
	g_mutex_lock(&mh_lock);
	ret = is_live_locked(name);
	g_mutex_unlock(&mh_lock);
	return ret;
}

static char *module_path(const char *name)
{
	g_autofree char *file = g_strdup_printf("%s.so", name);

	return g_build_filename(args->dir, file, NULL);
}

/* -- events ------------------------------------------------------------ */

static void event_reject(const char *name, const char *file, const char *error)
{
	GString *ev = mh_event_new("reject");

	mh_event_str(ev, "module", name);
	mh_event_str(ev, "file", file);
	mh_event_str(ev, "error", error);
	mh_event_emit(ev);
	mh_err("%s: %s", file ? file : name, error);
	note_error(g_strdup(error));
}

static char *hook_error(const char *hook, int ret,
			const struct mh_guard_fault *fault)
{
	if (fault->kind != MH_GUARD_NONE)
		return mh_guard_describe(hook, fault);
	return g_strdup_printf("%s failed: %d (%s)", hook, ret, g_strerror(-ret));
}

/* -- guarded hook calls ------------------------------------------------ */

struct hook_call {
	struct mh_module *mod;
	void **data;
	size_t *len;
	const void *cdata;
	size_t clen;
	const char *old_version;
};

static int call_init(void *p)
{
	struct hook_call *c = p;

	return c->mod->ops.init(c->mod, &mh_host_api);
}

static int call_prepare(void *p)
{
	struct hook_call *c = p;

	return c->mod->ops.prepare(c->mod, &mh_host_api);
}

static int call_exit(void *p)
{
	struct hook_call *c = p;

	c->mod->ops.exit(c->mod);
	return 0;
}

static int call_save(void *p)
{
	struct hook_call *c = p;

	return c->mod->ops.save_state(c->mod, c->data, c->len);
}

static int call_restore(void *p)
{
	struct hook_call *c = p;

	return c->mod->ops.restore_state(c->mod, c->cdata, c->clen,
					 c->old_version);
}

/* Run @fn on @mod; on failure *err says which hook and why. */
static int run_hook(struct mh_module *mod, const char *hook, mh_guarded_fn fn,
		    struct hook_call *c, char **err)
{
	struct mh_guard_fault fault;
	int ret;

	c->mod = mod;
	ret = mh_guard_call(fn, c, &fault);
	/* Ended half way: its state may be anything from here on. */
	if (fault.kind != MH_GUARD_NONE)
		mod->tainted = true;
	if (ret && err)
		*err = hook_error(hook, ret, &fault);
	return ret;
}

static void run_exit_hook(struct mh_module *mod);

/*
 * Bind @mod's imports, run its init, publish its exports.  @reload: it
 * replaces a live version, whose importers must keep what they use.
 */
static int module_init(struct mh_module *mod, bool reload, char **err)
{
	struct hook_call c = { 0 };
	int ret;

	mod->entry->state = MH_COMING;
	g_clear_pointer(&mod->reg_error, g_free);
	ret = mh_registry_bind(mod, reload, err);
	if (ret)
		goto fail;
	g_queue_push_tail(&initialising, mod);
	ret = run_hook(mod, "init", call_init, &c, err);
	g_queue_pop_tail(&initialising);
	if (mod->reg_error) {
		/* A registry call in init failed (PPP signature changed...):
		 * that is the reason, whatever init made of it. */
		if (!ret)
			run_exit_hook(mod);
		g_free(*err);
		*err = g_strdup(mod->reg_error);
		ret = ret ? ret : -EINVAL;
	}
	if (ret)
		goto fail;
	mh_registry_publish(mod);
	return 0;
fail:
	/* Whatever init registered before failing goes with it. */
	mh_module_unregister(mod);
	mod->entry->state = MH_UNFORMED;
	return ret;
}

static void run_exit_hook(struct mh_module *mod)
{
	struct hook_call c = { 0 };
	g_autofree char *err = NULL;

	if (mod->ops.exit && run_hook(mod, "exit", call_exit, &c, &err))
		mh_err("%s: %s", mod->meta->name, err);
}

static void module_exit(struct mh_module *mod)
{
	mod->entry->state = MH_GOING;
	run_exit_hook(mod);
	mh_module_unregister(mod);
	mod->entry->state = MH_UNFORMED;
}

/* -- requester half ---------------------------------------------------- */

static void request_free(struct request *r)
{
	if (r->mod)
		mh_module_close(r->mod);
	g_free(r->name);
	g_free(r->error);
	g_free(r);
}

static bool planned(GPtrArray *plan, const char *name)
{
	for (guint i = 0; i < plan->len; i++) {
		struct request *r = g_ptr_array_index(plan, i);

		if (!strcmp(r->name, name))
			return true;
	}
	return false;
}

/* The signature @module exports @name with: live, or planned in @plan. */
static char *export_sig(GPtrArray *plan, const char *module, const char *name)
{
	void (*fn)(void);
	char *sig = NULL;

	for (guint i = 0; i < plan->len; i++) {
		struct request *r = g_ptr_array_index(plan, i);
		GPtrArray *ex = r->mod->meta->exports;

		if (strcmp(r->name, module))
			continue;
		for (guint j = 0; j < ex->len; j++) {
			struct mh_meta_sym *e = g_ptr_array_index(ex, j);

			if (!strcmp(e->name, name))
				return g_strdup(e->sig);
		}
		return NULL;
	}
	if (!mh_registry_current(module, name, &fn, &sig, NULL))
		return sig;
	return NULL;
}

/*
 * Every static import must match its provider's export before any code of
 * the importer runs (the registry checks again when it binds).
 */
static int check_import_sigs(struct mh_module *mod, GPtrArray *plan,
			     char **err)
{
	GPtrArray *im = mod->meta->imports;

	for (guint i = 0; i < im->len; i++) {
		struct mh_meta_sym *s = g_ptr_array_index(im, i);
		g_autofree char *sig = export_sig(plan, s->module, s->name);

		if (!sig) {
			*err = g_strdup_printf("%s.%s is not exported (does %s "
					       "export %s?)", s->module, s->name,
					       s->module, s->name);
			return -ENOENT;
		}
		if (strcmp(sig, s->sig)) {
			*err = g_strdup_printf("%s.%s is %s, imported as %s",
					       s->module, s->name, sig, s->sig);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Open @name and, depth first, every module it requires that is not live,
 * appending requests to @plan in the order they must be applied.
 */
static int plan_load(const char *name, bool root, enum mh_origin from,
		     GPtrArray *plan, GHashTable *visiting, char **err)
{
	g_autofree char *path = module_path(name);
	struct hook_call c = { 0 };
	struct mh_module *mod = NULL;
	struct request *r;
	bool is_live;
	int ret;

	if (g_hash_table_contains(visiting, name)) {
		*err = g_strdup_printf("dependency cycle through '%s'", name);
		return -ELOOP;
	}
	if (planned(plan, name))
		return 0;
	is_live = mh_module_is_loaded(name);
	if (is_live && !root)
		return 0;

	/* Required modules are planned before any code of this one runs. */
	ret = mh_module_check(path, name,
			      g_hash_table_lookup(args->params, name), &mod, err);
	if (ret)
		return ret;

	g_autoptr(GPtrArray) req = mh_meta_requires(mod->meta);

	g_hash_table_add(visiting, (gpointer)name);
	for (guint i = 0; i < req->len && !ret; i++) {
		const char *dep = g_ptr_array_index(req, i);
		g_autofree char *why = NULL;

		ret = plan_load(dep, false, from, plan, visiting, &why);
		if (ret)
			*err = g_strdup_printf("required module '%s': %s", dep, why);
	}
	g_hash_table_remove(visiting, name);
	if (!ret)
		ret = check_import_sigs(mod, plan, err);
	if (ret)
		goto fail;
	ret = mh_module_map(mod, err);
	if (ret)
		goto fail;

	if (mod->ops.prepare) {
		ret = run_hook(mod, "prepare", call_prepare, &c, err);
		if (ret)
			goto fail;
	}
	r = g_new0(struct request, 1);
	r->kind = is_live ? REQ_RELOAD : REQ_LOAD;
	r->name = g_strdup(name);
	r->mod = mod;
	r->from = from;
	g_ptr_array_add(plan, r);
	return 0;
fail:
	mh_module_close(mod);
	return ret;
}

/* Queue @plan and wait until every request in it has been applied. */
static int submit(GPtrArray *plan, bool direct)
{
	int ret = 0;

	g_mutex_lock(&mh_lock);
	if (shutting_down) {
		g_mutex_unlock(&mh_lock);
		return -ECANCELED;
	}
	for (guint i = 0; i < plan->len; i++)
		g_queue_push_tail(&queue, g_ptr_array_index(plan, i));
	g_mutex_unlock(&mh_lock);

	if (direct)
		mh_lifecycle_apply();	/* no vCPU exists yet */
	else
		mh_quiesce_request();

	g_mutex_lock(&mh_lock);
	for (guint i = 0; i < plan->len; i++) {
		struct request *r = g_ptr_array_index(plan, i);

		while (!r->done)
			g_cond_wait(&mh_cond, &mh_lock);
		if (r->result && !ret)
			ret = r->result;
	}
	g_mutex_unlock(&mh_lock);
	return ret;
}

static int request_load(const char *name, enum mh_origin from, bool direct)
{
	g_autoptr(GPtrArray) plan =
		g_ptr_array_new_with_free_func((GDestroyNotify)request_free);
	g_autoptr(GHashTable) visiting = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree char *err = NULL;
	int ret;

	g_mutex_lock(&req_lock);
	ret = plan_load(name, true, from, plan, visiting, &err);
	if (ret) {
		g_autofree char *path = module_path(name);

		event_reject(name, path, err);
	} else {
		ret = submit(plan, direct);
	}
	g_mutex_unlock(&req_lock);
	return ret;
}

int mh_request_load(const char *name, enum mh_origin from)
{
	return request_load(name, from, false);
}

static int unload_check_locked(struct request *r, char **users, char **err);

static struct request *unload_request_new(const char *name, bool force,
					  enum mh_origin from)
{
	struct request *r = g_new0(struct request, 1);

	r->kind = REQ_UNLOAD;
	r->name = g_strdup(name);
	r->force = force;
	r->from = from;
	return r;
}

/*
 * Submit the unload @r (alone in @plan), unless it would be refused: that
 * is said at once, without pausing the guest for nothing (the pause would
 * also become the module's last pause in stats).  Must hold req_lock.
 */
static int submit_unload(GPtrArray *plan, struct request *r)
{
	g_autofree char *users = NULL;
	char *err = NULL;
	int ret;

	g_mutex_lock(&mh_lock);
	ret = unload_check_locked(r, &users, &err);
	g_mutex_unlock(&mh_lock);
	if (!ret)
		return submit(plan, false);
	event_reject(r->name, NULL, err);
	r->error = err;
	r->result = ret;
	r->done = true;
	return ret;
}

int mh_request_unload(const char *name, bool force, enum mh_origin from)
{
	g_autoptr(GPtrArray) plan =
		g_ptr_array_new_with_free_func((GDestroyNotify)request_free);
	struct request *r = unload_request_new(name, force, from);
	int ret;

	g_ptr_array_add(plan, r);
	g_mutex_lock(&req_lock);
	ret = submit_unload(plan, r);
	g_mutex_unlock(&req_lock);
	return ret;
}

/* -- applying half (every vCPU stopped) --------------------------------- */

static void event_module(const char *event, struct mh_module *mod,
			 enum mh_origin from)
{
	GString *ev = mh_event_new(event);

	mh_event_str(ev, "module", mod->meta->name);
	mh_event_str(ev, "version", mod->meta->version);
	mh_event_str(ev, "file", mod->file);
	mh_event_str(ev, "from", origin_names[from]);
	mh_event_emit(ev);
}

static bool deps_live_locked(struct mh_module *mod, char **err) /* Must hold mh_lock. */
{
	g_autoptr(GPtrArray) req = mh_meta_requires(mod->meta);

	for (guint i = 0; i < req->len; i++) {
		const char *dep = g_ptr_array_index(req, i);
		struct mh_entry *d = g_hash_table_lookup(entries, dep);

		if (!d || d->state != MH_LIVE) {
			*err = g_strdup_printf("required module '%s' is not live", dep);
			return false;
		}
	}
	return true;
}

static int apply_load_locked(struct request *r) /* Must hold mh_lock. */
{
	struct mh_entry *e = entry_get_locked(r->name);
	struct mh_module *mod = r->mod;
	g_autofree char *err = NULL;
	int ret;

	if (e->state == MH_LIVE) {
		err = g_strdup("already loaded");
		ret = -EEXIST;
		goto fail;
	}
	if (!deps_live_locked(mod, &err)) {
		ret = -ENOENT;
		goto fail;
	}
	mod->entry = e;
	ret = module_init(mod, false, &err);
	if (ret)
		goto fail;
	r->mod = NULL;
	e->live = mod;
	e->state = MH_LIVE;
	e->loads++;
	g_ptr_array_add(live, e);
	event_module("load", mod, r->from);
	mh_msg("%s: loaded version %s", e->name, mod->meta->version);
	return 0;
fail:
	event_reject(r->name, mod->file, err);
	return ret;
}

/* The live modules that use @name, "a, b", or "" if none. */
static char *users_locked(const char *name) /* Must hold mh_lock. */
{
	g_autoptr(GPtrArray) users = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < live->len; i++) {
		struct mh_entry *e = g_ptr_array_index(live, i);
		g_autoptr(GPtrArray) req = mh_meta_requires(e->live->meta);

		if (g_ptr_array_find_with_equal_func(req, name, g_str_equal, NULL))
			g_ptr_array_add(users, g_strdup(e->name));
	}
	/* Dynamic imports and PPP handlers are edges too. */
	mh_registry_users(name, users);
	return mh_join_unique(users);
}

/*
 * Why unloading @r->name would be refused now: 0, or -errno and *@err.
 * *@users: the live modules that use it ("" if none).
 */
static int unload_check_locked(struct request *r, char **users, char **err) /* Must hold mh_lock. */
{
	struct mh_entry *e = g_hash_table_lookup(entries, r->name);

	*users = NULL;
	if (!e || e->state != MH_LIVE) {
		*err = g_strdup("unload: not loaded");
		return -ENOENT;
	}
	*users = users_locked(r->name);
	if (**users && !r->force) {
		*err = g_strdup_printf("unload refused: in use by %s", *users);
		return -EBUSY;
	}
	return 0;
}

static int apply_unload_locked(struct request *r) /* Must hold mh_lock. */
{
	struct mh_entry *e = g_hash_table_lookup(entries, r->name);
	g_autofree char *users = NULL;
	g_autofree char *err = NULL;
	struct mh_module *mod;
	GString *ev;
	int ret;

	/* Checked before the quiesce too; a user may have come meanwhile. */
	ret = unload_check_locked(r, &users, &err);
	if (ret) {
		event_reject(r->name, NULL, err);
		return ret;
	}
	mod = e->live;
	module_exit(mod);
	mh_registry_retire(e->name);
	g_ptr_array_remove(live, e);
	e->live = NULL;
	ev = mh_event_new("unload");
	mh_event_str(ev, "module", e->name);
	mh_event_str(ev, "version", mod->meta->version);
	mh_event_str(ev, "from", origin_names[r->from]);
	if (*users)
		mh_event_str(ev, "forced_users", users);
	mh_event_emit(ev);
	mh_msg("%s: unloaded", e->name);
	mh_module_close(mod);
	return 0;
}

/*
 * Bring @old back after a failed reload: init again and hand it the state
 * it saved.  If even that fails, the module is gone.
 */
static void rollback_locked(struct mh_entry *e, struct mh_module *old,
			    const void *blob, size_t len, const char *why)
{
	struct hook_call c = { .cdata = blob, .clen = len,
			       .old_version = old->meta->version };
	g_autofree char *err = NULL;
	GString *ev;
	int ret;

	e->live = old;
	ret = module_init(old, true, &err);
	if (!ret && old->ops.restore_state && blob) {
		ret = run_hook(old, "restore_state", call_restore, &c, &err);
		if (ret)
			module_exit(old);
	}
	if (!ret) {
		e->state = MH_LIVE;
		e->rollbacks++;
		ev = mh_event_new("rollback");
		mh_event_str(ev, "module", e->name);
		mh_event_str(ev, "version", old->meta->version);
		mh_event_str(ev, "error", why);
		mh_event_emit(ev);
		mh_err("%s: reload failed, version %s kept: %s", e->name,
		       old->meta->version, why);
		note_error(g_strdup_printf("reload failed, version %s kept: %s",
					   old->meta->version, why));
		return;
	}
	e->live = NULL;
	g_ptr_array_remove(live, e);
	mh_registry_retire(e->name);
	ev = mh_event_new("unload");
	mh_event_str(ev, "module", e->name);
	mh_event_str(ev, "version", old->meta->version);
	mh_event_str(ev, "error", err);
	mh_event_emit(ev);
	mh_err("%s: reload failed (%s) and the old version could not be "
	       "restored (%s): unloaded", e->name, why, err);
	note_error(g_strdup_printf("reload failed (%s) and the old version "
				   "could not be restored (%s): unloaded",
				   why, err));
	mh_module_close(old);
}

static int apply_reload_locked(struct request *r) /* Must hold mh_lock. */
{
	struct mh_entry *e = g_hash_table_lookup(entries, r->name);
	struct mh_module *old, *new = r->mod;
	g_autofree void *blob = NULL;
	g_autofree char *err = NULL;
	struct hook_call c = { 0 };
	size_t len = 0;
	int ret;
	GString *ev;

	if (!e || e->state != MH_LIVE) {	/* unloaded meanwhile: load */
		r->kind = REQ_LOAD;
		return apply_load_locked(r);
	}
	old = e->live;
	if (!deps_live_locked(new, &err)) {
		ret = -ENOENT;
		goto refuse;
	}
	ret = mh_registry_check_reload(new, &err);
	if (ret)
		goto refuse;
	if (old->ops.save_state) {
		c.data = &blob;
		c.len = &len;
		ret = run_hook(old, "save_state", call_save, &c, &err);
		if (ret)
			goto refuse;
	}
	module_exit(old);

	new->entry = e;
	e->live = new;
	ret = module_init(new, true, &err);
	if (ret)
		goto rollback;
	if (new->ops.restore_state && blob) {
		struct hook_call rc = { .cdata = blob, .clen = len,
					.old_version = old->meta->version };

		ret = run_hook(new, "restore_state", call_restore, &rc, &err);
		if (ret) {
			module_exit(new);
			goto rollback;
		}
		ev = mh_event_new("state_handoff");
		mh_event_str(ev, "module", e->name);
		mh_event_str(ev, "from_version", old->meta->version);
		mh_event_str(ev, "version", new->meta->version);
		mh_event_int(ev, "bytes", len);
		mh_event_emit(ev);
	}
	r->mod = NULL;
	e->state = MH_LIVE;
	e->reloads++;
	ev = mh_event_new("reload");
	mh_event_str(ev, "module", e->name);
	mh_event_str(ev, "version", new->meta->version);
	mh_event_str(ev, "old_version", old->meta->version);
	mh_event_str(ev, "file", new->file);
	mh_event_str(ev, "from", origin_names[r->from]);
	mh_event_emit(ev);
	mh_msg("%s: reloaded %s -> %s", e->name, old->meta->version,
	       new->meta->version);
	mh_module_close(old);
	return 0;

rollback:
	rollback_locked(e, old, blob, len, err);
	return ret;
refuse:
	ev = mh_event_new("rollback");
	mh_event_str(ev, "module", e->name);
	mh_event_str(ev, "version", old->meta->version);
	mh_event_str(ev, "error", err);
	mh_event_emit(ev);
	e->rollbacks++;
	mh_err("%s: reload refused, version %s kept: %s", e->name,
	       old->meta->version, err);
	note_error(g_strdup_printf("reload refused, version %s kept: %s",
				   old->meta->version, err));
	return ret;
}

int mh_lifecycle_apply(void)
{
	int n = 0;

	/* Every vCPU is stopped: no one walks a replaced route table. */
	mh_hypercall_quiesced();
	g_mutex_lock(&mh_lock);
	applying = true;
	while (!g_queue_is_empty(&queue)) {
		struct request *r = g_queue_pop_head(&queue);

		applying_set(r);
		switch (r->kind) {
		case REQ_LOAD:
			r->result = apply_load_locked(r);
			break;
		case REQ_RELOAD:
			r->result = apply_reload_locked(r);
			break;
		case REQ_UNLOAD:
			r->result = apply_unload_locked(r);
			break;
		}
		applying_set(NULL);
		r->done = true;
		n++;
	}
	applying = false;
	g_cond_broadcast(&mh_cond);
	g_mutex_unlock(&mh_lock);
	return n;
}

/*
 * @name is live, or is loaded now: from a module's init, inside the running
 * apply, like PANDA's panda_require().  Its prepare() runs here too, in the
 * pause.
 */
int mh_lifecycle_require(const char *name, char **err)
{
	g_autoptr(GPtrArray) plan =
		g_ptr_array_new_with_free_func((GDestroyNotify)request_free);
	g_autoptr(GHashTable) visiting = g_hash_table_new(g_str_hash, g_str_equal);
	int ret;

	if (mh_module_is_loaded(name))
		return 0;
	if (!mh_valid_module_name(name, strlen(name))) {
		*err = g_strdup_printf("'%.80s' is not a module name", name);
		return -EINVAL;
	}
	if (!applying) {
		*err = g_strdup_printf("cannot load '%s' from here: only from init",
				       name);
		return -EPERM;
	}
	ret = plan_load(name, true, MH_FROM_IMPORT, plan, visiting, err);
	for (guint i = 0; !ret && i < plan->len; i++) {
		struct request *r = g_ptr_array_index(plan, i);

		ret = apply_load_locked(r);
		if (ret)
			*err = g_strdup_printf("loading '%s' failed (see its reject "
					       "event)", r->name);
	}
	return ret;
}

bool mh_lifecycle_pending(void)
{
	bool ret;

	g_mutex_lock(&mh_lock);
	ret = !g_queue_is_empty(&queue);
	g_mutex_unlock(&mh_lock);
	return ret;
}

/* vCPU side: the live set only changes while vCPUs are stopped. */
void mh_lifecycle_translate(struct qemu_plugin_tb *tb)
{
	for (guint i = 0; i < live->len; i++) {
		struct mh_module *m = ((struct mh_entry *)
				       g_ptr_array_index(live, i))->live;

		/* A tainted instance instruments nothing more. */
		if (m->translate && !m->tainted)
			mh_api_translate(m, tb);
	}
}

/*
 * The name of the module whose live instance, or instance in init, @match
 * accepts; NULL if none.  Any thread: from a module's hook (this thread
 * applies or runs the exit hooks, holding mh_lock) it takes no lock,
 * elsewhere mh_lock.
 */
const char *mh_lifecycle_owner(bool (*match)(const struct mh_module *m,
					     const void *key),
			       const void *key)
{
	bool locked = applying || exiting_hooks;
	const char *name = NULL;

	if (!locked)
		g_mutex_lock(&mh_lock);
	for (GList *l = initialising.head; l && !name; l = l->next) {
		struct mh_module *m = l->data;

		if (match(m, key))
			name = m->entry->name;
	}
	for (guint i = 0; !name && i < live->len; i++) {
		struct mh_entry *e = g_ptr_array_index(live, i);

		if (e->live && match(e->live, key))
			name = e->name;
	}
	if (!locked)
		g_mutex_unlock(&mh_lock);
	return name;
}

/* -- start and exit ---------------------------------------------------- */

static void entry_free(gpointer p)
{
	struct mh_entry *e = p;

	g_free(e->name);
	g_free(e);
}

/* Check parameters given for modules whose files are there now. */
static int check_params(char **err)
{
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, args->params);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		g_autofree char *path = module_path(k);
		struct mh_meta *meta = NULL;
		GHashTableIter pit;
		gpointer pk, pv;
		g_autofree char *why = NULL;

		/* Said when start-up ends, if it is still not there. */
		if (!g_file_test(path, G_FILE_TEST_EXISTS))
			continue;
		if (mh_meta_read(path, &meta, &why)) {
			*err = g_strdup_printf("%s: %s", path, why);
			return -EINVAL;
		}
		g_hash_table_iter_init(&pit, v);
		while (!why && g_hash_table_iter_next(&pit, &pk, &pv)) {
			const struct mh_param_decl *d = mh_meta_param(meta, pk);
			g_autofree char *bad = NULL;

			if (!d)
				why = g_strdup_printf("%s.%s: module has no such "
						      "parameter", (char *)k,
						      (char *)pk);
			else if (mh_param_check(d->type, pv, &bad))
				why = g_strdup_printf("%s.%s: %s", (char *)k,
						      (char *)pk, bad);
		}
		mh_meta_free(meta);
		if (why) {
			*err = g_steal_pointer(&why);
			return -EINVAL;
		}
	}
	return 0;
}

int mh_lifecycle_init(const struct mh_host_args *a, char **err)
{
	args = a;
	if (!g_file_test(a->dir, G_FILE_TEST_IS_DIR)) {
		*err = g_strdup_printf("dir=%s: not a directory", a->dir);
		return -ENOTDIR;
	}
	entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, entry_free);
	live = g_ptr_array_new();
	return check_params(err);
}

/*
 * Start-up is over: MODULE.PARAM given for a module that did not load
 * would otherwise be ignored without a word.  A module whose file is in
 * dir may still be loaded later (watcher, modctl), and then gets them; one
 * that is not there most likely means a typo in the module's name.
 */
static void warn_unused_params(void)
{
	GHashTableIter it, pit;
	gpointer k, v, pk;

	g_hash_table_iter_init(&it, args->params);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		g_autofree char *path = module_path(k);
		g_autoptr(GPtrArray) names = g_ptr_array_new();
		g_autofree char *list = NULL;

		if (mh_module_is_loaded(k))
			continue;
		g_hash_table_iter_init(&pit, v);
		while (g_hash_table_iter_next(&pit, &pk, NULL))
			g_ptr_array_add(names, pk);
		g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
		g_ptr_array_add(names, NULL);
		list = g_strjoinv(", ", (char **)names->pdata);
		if (g_file_test(path, G_FILE_TEST_EXISTS)) {
			mh_msg("%s is not loaded: its parameters (%s) apply when "
			       "it is", (char *)k, list);
			continue;
		}
		for (guint i = 0; i + 1 < names->len; i++) {
			GString *ev = mh_event_new("param_unused");

			mh_event_str(ev, "module", k);
			mh_event_str(ev, "param", g_ptr_array_index(names, i));
			mh_event_emit(ev);
		}
		mh_err("warning: parameters for module '%s' (%s) are unused: it "
		       "is not loaded and there is no %s", (char *)k, list, path);
	}
}

int mh_lifecycle_start(char **err)
{
	for (char **n = args->load; n && *n; n++) {
		if (mh_module_is_loaded(*n))
			continue;
		if (request_load(*n, MH_FROM_START, true)) {
			*err = g_strdup_printf("load=: could not load '%s'", *n);
			return -EINVAL;
		}
	}
	warn_unused_params();
	return 0;
}

/*
 * Guest requests (hypercall.c): a vCPU must not wait for a quiesce it is
 * needed to answer, nor open files, so it only queues the request here.
 * One worker thread runs them in order, exactly like a control-socket
 * request, and logs a guest_request event with the outcome.  The queue is
 * bounded: a guest cannot make the host hold unbounded work.
 */
#define ASYNC_MAX 16

struct async_req {
	enum mh_req_kind kind;
	char *name;
	enum mh_origin from;
};

static GMutex async_lock;	/* async_pool, async_closed */
static GThreadPool *async_pool;
static bool async_closed;	/* QEMU exits: no new guest request */

static void async_run(gpointer data, gpointer user)
{
	static const char *const kinds[] = {
		[MH_REQ_LOAD] = "load",
		[MH_REQ_RELOAD] = "reload",
		[MH_REQ_UNLOAD] = "unload",
	};
	struct async_req *a = data;
	g_autofree char *err = NULL;
	GString *ev;
	int ret;

	(void)user;
	ret = mh_request(a->kind, a->name, NULL, false, a->from, &err);
	ev = mh_event_new("guest_request");
	mh_event_str(ev, "op", kinds[a->kind]);
	mh_event_str(ev, "module", a->name);
	mh_event_str(ev, "from", origin_names[a->from]);
	mh_event_str(ev, "result", ret ? err : "ok");
	mh_event_emit(ev);
	g_free(a->name);
	g_free(a);
}

int mh_request_async(enum mh_req_kind kind, const char *name,
		     enum mh_origin from)
{
	struct async_req *a;
	int ret = 0;

	g_mutex_lock(&async_lock);
	if (async_closed) {
		ret = -ECANCELED;
		goto out;
	}
	if (!async_pool)
		async_pool = g_thread_pool_new(async_run, NULL, 1, FALSE, NULL);
	if (g_thread_pool_unprocessed(async_pool) >= ASYNC_MAX) {
		ret = -EAGAIN;
		goto out;
	}
	a = g_new0(struct async_req, 1);
	a->kind = kind;
	a->name = g_strdup(name);
	a->from = from;
	g_thread_pool_push(async_pool, a, NULL);
out:
	g_mutex_unlock(&async_lock);
	return ret;
}

void mh_lifecycle_cancel(void)
{
	GThreadPool *pool;

	g_mutex_lock(&mh_lock);
	shutting_down = true;
	/* Nobody will apply what is still queued: fail it. */
	while (!g_queue_is_empty(&queue)) {
		struct request *r = g_queue_pop_head(&queue);

		r->result = -ECANCELED;
		r->done = true;
	}
	g_cond_broadcast(&mh_cond);
	g_mutex_unlock(&mh_lock);

	/* Guest requests not started are dropped; a running one is cancelled. */
	g_mutex_lock(&async_lock);
	pool = g_steal_pointer(&async_pool);
	async_closed = true;
	g_mutex_unlock(&async_lock);
	if (pool)
		g_thread_pool_free(pool, TRUE, TRUE);
}

static bool qemu_exiting;

bool mh_lifecycle_exiting(void)
{
	return qemu_exiting;
}

void mh_lifecycle_exit(void)
{
	GString *ev;

	g_mutex_lock(&mh_lock);
	qemu_exiting = true;
	exiting_hooks = true;
	for (guint i = live->len; i-- > 0;) {
		struct mh_entry *e = g_ptr_array_index(live, i);

		/*
		 * Only the hook: with isa-debug-exit, QEMU exits on a vCPU
		 * thread while other vCPUs may still translate (walking
		 * `live`) and run blocks that use the module's scoreboards, so
		 * nothing is freed or removed here.
		 */
		run_exit_hook(e->live);
		ev = mh_event_new("unload");
		mh_event_str(ev, "module", e->name);
		mh_event_str(ev, "version", e->live->meta->version);
		mh_event_str(ev, "from", "exit");
		mh_event_emit(ev);
	}
	exiting_hooks = false;
	g_mutex_unlock(&mh_lock);
}

/* -- queries and requests for the control socket ------------------------ */

/*
 * args->params (MODULE.PARAM values for the next load) is read by
 * plan_load() under req_lock.  The control socket also changes it (param,
 * load NAME KEY=VALUE) and reads it (info) without waiting for req_lock,
 * which a request holds until it is applied: so writers hold both locks,
 * readers either.
 */
static GMutex param_lock;
/* Names of the requests applied in the running quiesce; under mh_lock. */
static GPtrArray *last_applied;

/* On the applying thread, while @r is applied (for note_error). */
static void applying_set(struct request *r)
{
	applying_req = r;
	/* Loads at start are applied directly: no quiesce, no pause. */
	if (!r || r->from == MH_FROM_START)
		return;
	if (!last_applied)
		last_applied = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(last_applied, g_strdup(r->name));
}

/* The first failure while a request is applied is what its requester sees. */
static void note_error(char *error)
{
	if (applying_req && !applying_req->error)
		applying_req->error = error;
	else
		g_free(error);
}

void mh_lifecycle_note_pause(int64_t pause_us)
{
	g_mutex_lock(&mh_lock);
	for (guint i = 0; last_applied && i < last_applied->len; i++) {
		struct mh_entry *e = g_hash_table_lookup(entries,
				g_ptr_array_index(last_applied, i));

		if (e)
			e->last_pause_us = pause_us;
	}
	if (last_applied)
		g_ptr_array_set_size(last_applied, 0);
	g_mutex_unlock(&mh_lock);
}

/* Make @given part of @name's parameters; return what they were. */
static GHashTable *params_merge_locked(const char *name, GHashTable *given) /* Must hold req_lock. */
{
	GHashTable *old = g_hash_table_lookup(args->params, name);
	GHashTable *merged = g_hash_table_new_full(g_str_hash, g_str_equal,
						   g_free, g_free);
	GHashTableIter it;
	gpointer k, v;

	if (old) {
		g_hash_table_ref(old);
		g_hash_table_iter_init(&it, old);
		while (g_hash_table_iter_next(&it, &k, &v))
			g_hash_table_insert(merged, g_strdup(k), g_strdup(v));
	}
	g_hash_table_iter_init(&it, given);
	while (g_hash_table_iter_next(&it, &k, &v))
		g_hash_table_insert(merged, g_strdup(k), g_strdup(v));
	g_mutex_lock(&param_lock);
	g_hash_table_insert(args->params, g_strdup(name), merged);
	g_mutex_unlock(&param_lock);
	return old;
}

/* Undo params_merge_locked(): @old (a reference) goes back. */
static void params_restore_locked(const char *name, GHashTable *old) /* Must hold req_lock. */
{
	g_mutex_lock(&param_lock);
	if (old)
		g_hash_table_insert(args->params, g_strdup(name), old);
	else
		g_hash_table_remove(args->params, name);
	g_mutex_unlock(&param_lock);
}

int mh_request(enum mh_req_kind kind, const char *name, GHashTable *params,
	       bool force, enum mh_origin from, char **err)
{
	g_autoptr(GPtrArray) plan =
		g_ptr_array_new_with_free_func((GDestroyNotify)request_free);
	g_autoptr(GHashTable) visiting = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree char *why = NULL;
	GHashTable *old_params = NULL;
	bool merged = false;
	int ret;

	g_mutex_lock(&req_lock);
	/* The watcher turns a load of a live module into a reload; a user
	 * who typed "load" or "reload" meant exactly that. */
	if (kind == MH_REQ_LOAD && mh_module_is_loaded(name)) {
		*err = g_strdup_printf("'%s' is already loaded (use reload)", name);
		ret = -EEXIST;
		goto out;
	}
	if (kind != MH_REQ_LOAD && !mh_module_is_loaded(name)) {
		*err = g_strdup_printf("'%s' is not loaded", name);
		ret = -ENOENT;
		goto out;
	}
	if (kind == MH_REQ_UNLOAD) {
		struct request *r = unload_request_new(name, force, from);

		g_ptr_array_add(plan, r);
		ret = submit_unload(plan, r);
	} else {
		if (params && g_hash_table_size(params)) {
			old_params = params_merge_locked(name, params);
			merged = true;
		}
		ret = plan_load(name, true, from, plan, visiting, &why);
		if (ret) {
			g_autofree char *path = module_path(name);

			event_reject(name, path, why);
			*err = g_strdup_printf("%s: %s", path, why);
			goto out;
		}
		ret = submit(plan, false);
	}
	if (ret) {
		for (guint i = 0; i < plan->len && !*err; i++) {
			struct request *r = g_ptr_array_index(plan, i);

			if (r->result && r->error)
				*err = g_strdup(r->error);
		}
		if (!*err)
			*err = g_strdup(ret == -ECANCELED ?
					"QEMU is exiting: request cancelled" :
					g_strerror(-ret));
	}
out:
	if (merged && ret)
		params_restore_locked(name, old_params);
	else if (old_params)
		g_hash_table_unref(old_params);
	g_mutex_unlock(&req_lock);
	return ret;
}

/* The declaration of @name's parameter @key, checked against @value. */
static int param_check(const char *name, const char *key, const char *value,
		       char **err)
{
	g_autofree char *path = module_path(name);
	struct mh_meta *meta = NULL;
	const struct mh_param_decl *d;
	g_autofree char *why = NULL;
	int ret;

	/* The file in dir is what the next load or reload reads. */
	ret = mh_meta_read(path, &meta, &why);
	if (ret) {
		*err = g_strdup_printf("%s: %s", path, why);
		return ret;
	}
	d = mh_meta_param(meta, key);
	if (!d) {
		*err = g_strdup_printf("module '%s' has no parameter '%s'", name,
				       key);
		ret = -EINVAL;
	} else if (mh_param_check(d->type, value, &why)) {
		*err = g_strdup_printf("%s.%s: %s", name, key, why);
		ret = -EINVAL;
	}
	mh_meta_free(meta);
	return ret;
}

int mh_lifecycle_param_set(const char *name, const char *key,
			   const char *value, char **err)
{
	GHashTable *mp;
	int ret;

	ret = param_check(name, key, value, err);
	if (ret)
		return ret;
	g_mutex_lock(&req_lock);
	g_mutex_lock(&param_lock);
	mp = g_hash_table_lookup(args->params, name);
	if (!mp) {
		mp = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
		g_hash_table_insert(args->params, g_strdup(name), mp);
	}
	g_hash_table_insert(mp, g_strdup(key), g_strdup(value));
	g_mutex_unlock(&param_lock);
	g_mutex_unlock(&req_lock);
	return 0;
}

GHashTable *mh_lifecycle_params(const char *name)
{
	GHashTable *copy = NULL, *mp;
	GHashTableIter it;
	gpointer k, v;

	g_mutex_lock(&param_lock);
	mp = g_hash_table_lookup(args->params, name);
	if (mp) {
		copy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     g_free);
		g_hash_table_iter_init(&it, mp);
		while (g_hash_table_iter_next(&it, &k, &v))
			g_hash_table_insert(copy, g_strdup(k), g_strdup(v));
	}
	g_mutex_unlock(&param_lock);
	return copy;
}

static gint entry_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp((*(struct mh_entry *const *)a)->name,
		      (*(struct mh_entry *const *)b)->name);
}

static void call_with_users_locked(struct mh_entry *e, mh_entry_fn fn,
				   void *opaque) /* Must hold mh_lock. */
{
	g_autofree char *users = users_locked(e->name);

	fn(e, users ? users : "", opaque);
}

void mh_lifecycle_foreach(bool live_only, mh_entry_fn fn, void *opaque)
{
	g_autoptr(GPtrArray) others = g_ptr_array_new();
	GHashTableIter it;
	gpointer v;

	g_mutex_lock(&mh_lock);
	for (guint i = 0; i < live->len; i++)
		call_with_users_locked(g_ptr_array_index(live, i), fn, opaque);
	if (!live_only) {
		g_hash_table_iter_init(&it, entries);
		while (g_hash_table_iter_next(&it, NULL, &v)) {
			if (!g_ptr_array_find(live, v, NULL))
				g_ptr_array_add(others, v);
		}
		g_ptr_array_sort(others, entry_cmp);
		for (guint i = 0; i < others->len; i++)
			call_with_users_locked(g_ptr_array_index(others, i), fn,
					       opaque);
	}
	g_mutex_unlock(&mh_lock);
}

int mh_lifecycle_with(const char *name, mh_entry_fn fn, void *opaque)
{
	struct mh_entry *e;

	g_mutex_lock(&mh_lock);
	e = g_hash_table_lookup(entries, name);
	if (e)
		call_with_users_locked(e, fn, opaque);
	g_mutex_unlock(&mh_lock);
	return e ? 0 : -ENOENT;
}

/*
 * The registry's symbols and the hypercall routes, as JSON arrays for the
 * control socket; modctl shows objects of these shapes:
 *   symbols: {"name":"module.symbol","kind":"export"|"ppp",
 *             "signature":"u32(p)","provider":"module","live":true,
 *             "dead_calls":0 (export) | "handlers":1 (ppp),"users":["m",...]}
 *   routes:  {"magic":"0x4d480010","owner":"module","handler":"name",
 *             "kind":"handler"|"symbol"|"guest_control","calls":0}
 */
void mh_query_symbols(GString *json)
{
	mh_registry_describe(json);
}

void mh_query_routes(GString *json)
{
	mh_hypercall_describe(json);
}
