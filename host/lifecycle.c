// SPDX-License-Identifier: MIT
/*
 * Module lifecycle: entries and states, applying loads, unloads and
 * reloads, rollback and state handoff, and the module hooks.
 *
 * A request runs in two halves.  The requester's half (plan.c, on a host
 * thread or QEMU's main thread at start) opens the files and runs prepare()
 * while the guest runs, then queues the work and waits.  The applying half,
 * here, runs with every vCPU stopped (quiesce.c) and calls init/exit/save/
 * restore, so the set of live modules never changes under a running vCPU.
 *
 * States (struct mh_entry): UNFORMED -> COMING (in init) -> LIVE ->
 * GOING (in exit) -> UNFORMED.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

GMutex mh_lock;			/* entries, live, plan.c's queue and results */
static GHashTable *entries;	/* name -> struct mh_entry */
static GPtrArray *live;		/* struct mh_entry, in load order */
static const struct mh_host_args *args;

/* The request this thread applies, and what notes its errors (at the end). */
static __thread struct mh_req *applying_req;
static void applying_set(struct mh_req *r);
static void note_error(char *error);

static const char *const origin_names[] = {
	[MH_FROM_START] = "start",
	[MH_FROM_WATCH] = "watch",
	[MH_FROM_IMPORT] = "import",
	[MH_FROM_CTL] = "ctl",
	[MH_FROM_GUEST] = "guest",
	[MH_FROM_SELF] = "self",
};

const char *mh_lifecycle_origin(enum mh_origin from)
{
	return origin_names[from];
}

const char *mh_lifecycle_dir(void)
{
	return args->dir;
}

/*
 * NAME.so, or the script NAME.py when there is no NAME.so: a shared object
 * and a script of the same name are one module, and the shared object wins.
 */
char *mh_lifecycle_path(const char *name)
{
	g_autofree char *file = g_strdup_printf("%s.so", name);
	g_autofree char *script = g_strconcat(name, MH_SCRIPT_SUFFIX, NULL);
	char *path = g_build_filename(args->dir, file, NULL);
	char *spath;
	struct stat st;

	if (!lstat(path, &st) || errno != ENOENT)
		return path;
	spath = g_build_filename(args->dir, script, NULL);
	if (lstat(spath, &st)) {
		g_free(spath);
		return path;
	}
	g_free(path);
	return spath;
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

bool mh_lifecycle_is_loaded(const char *name)
{
	bool ret;

	if (applying)
		return is_live_locked(name);
	g_mutex_lock(&mh_lock);
	ret = is_live_locked(name);
	g_mutex_unlock(&mh_lock);
	return ret;
}

/* -- events ------------------------------------------------------------ */

void mh_lifecycle_reject(const char *name, const char *file, const char *error)
{
	GString *ev = mh_event_new("reject");

	mh_event_str(ev, "module", name);
	mh_event_str(ev, "file", file);
	mh_event_str(ev, "error", error);
	mh_event_emit(ev);
	mh_err("%s: %s", file ? file : name, error);
	note_error(g_strdup(error));
}

void mh_lifecycle_hook_stuck(const char *name, const char *line)
{
	GString *ev = mh_event_new("hook_stuck");

	mh_event_str(ev, "module", name);
	mh_event_str(ev, "error", line);
	mh_event_emit(ev);
	mh_err("%s: %s", name, line);
}

/* The optional fields of a module event; NULL ones are left out. */
struct module_event {
	const char *old_version;
	const char *file;
	const char *from;
	const char *error;
	const char *forced_users;
};

/*
 * A load, unload, reload or rollback event: @name at @version, then the
 * fields of @f that are set, always in this order.
 */
static void event_module(const char *event, const char *name,
			 const char *version, const struct module_event *f)
{
	GString *ev = mh_event_new(event);

	mh_event_str(ev, "module", name);
	mh_event_str(ev, "version", version);
	if (f->old_version)
		mh_event_str(ev, "old_version", f->old_version);
	if (f->file)
		mh_event_str(ev, "file", f->file);
	if (f->from)
		mh_event_str(ev, "from", f->from);
	if (f->error)
		mh_event_str(ev, "error", f->error);
	if (f->forced_users)
		mh_event_str(ev, "forced_users", f->forced_users);
	mh_event_emit(ev);
}

static char *hook_error(const char *hook, int ret,
			const struct mh_guard_fault *fault, const char *said)
{
	if (fault->kind != MH_GUARD_NONE)
		return mh_guard_describe(hook, fault);
	return g_strdup_printf("%s failed: %d (%s)%s%s", hook, ret,
			       g_strerror(-ret), said ? ": " : "",
			       said ? said : "");
}

/* The module whose hook this thread runs: its error lines are its reason. */
static __thread struct mh_module *in_hook;

void mh_lifecycle_hook_said(struct mh_module *mod, const char *text)
{
	if (mod != in_hook)
		return;
	g_free(mod->said);
	mod->said = g_strdup(text);
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

MH_GUARD_ENTRY static int call_init(void *p)
{
	struct hook_call *c = p;

	return c->mod->ops.init(c->mod, &mh_host_api);
}

MH_GUARD_ENTRY static int call_prepare(void *p)
{
	struct hook_call *c = p;

	return c->mod->ops.prepare(c->mod, &mh_host_api);
}

MH_GUARD_ENTRY static int call_exit(void *p)
{
	struct hook_call *c = p;

	c->mod->ops.exit(c->mod);
	return 0;
}

MH_GUARD_ENTRY static int call_save(void *p)
{
	struct hook_call *c = p;

	return c->mod->ops.save_state(c->mod, c->data, c->len);
}

MH_GUARD_ENTRY static int call_restore(void *p)
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
	struct mh_module *prev;
	int ret;

	c->mod = mod;
	g_clear_pointer(&mod->why, g_free);
	g_clear_pointer(&mod->said, g_free);
	/* Its init may load another module (api->import): nested hooks. */
	prev = in_hook;
	in_hook = mod;
	ret = mh_guard_call(mod, hook, fn, c, &fault);
	in_hook = prev;
	/* Ended half way: its state may be anything from here on. */
	if (fault.kind != MH_GUARD_NONE)
		mod->tainted = true;
	/* A script says why better than an errno does (its exception). */
	if (ret && err && fault.kind == MH_GUARD_NONE && mod->why)
		*err = g_strdup(mod->why);
	else if (ret && err)
		*err = hook_error(hook, ret, &fault, mod->said);
	return ret;
}

int mh_lifecycle_prepare(struct mh_module *mod, char **err)
{
	struct hook_call c = { 0 };

	if (!mod->ops.prepare)
		return 0;
	return run_hook(mod, "prepare", call_prepare, &c, err);
}

static void run_exit_hook(struct mh_module *mod);

/*
 * What @m registered goes with it: through the API table (translate hook,
 * scoreboards, accounting), in the registry, and its hypercall routes.
 */
static void module_unregister(struct mh_module *m)
{
	mh_api_release(m);
	mh_registry_release(m);
	mh_hypercall_release(m);
}

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
	module_unregister(mod);
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
	module_unregister(mod);
	mod->entry->state = MH_UNFORMED;
}

/* -- applying half (every vCPU stopped) --------------------------------- */

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

static int apply_load_locked(struct mh_req *r) /* Must hold mh_lock. */
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
	event_module("load", e->name, mod->meta->version,
		     &(struct module_event){ .file = mod->file,
					     .from = origin_names[r->from] });
	mh_msg("%s: loaded version %s", e->name, mod->meta->version);
	return 0;
fail:
	mh_lifecycle_reject(r->name, mod->file, err);
	return ret;
}

/* The live modules that use @name, each once, in first-seen order. */
static GPtrArray *users_locked(const char *name) /* Must hold mh_lock. */
{
	g_autoptr(GPtrArray) edges = g_ptr_array_new_with_free_func(g_free);
	GPtrArray *users = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; i < live->len; i++) {
		struct mh_entry *e = g_ptr_array_index(live, i);
		g_autoptr(GPtrArray) req = mh_meta_requires(e->live->meta);

		if (g_ptr_array_find_with_equal_func(req, name, g_str_equal, NULL))
			g_ptr_array_add(edges, g_strdup(e->name));
	}
	/* Dynamic imports and PPP handlers are edges too. */
	mh_registry_users(name, edges);
	for (guint i = 0; i < edges->len; i++) {
		const char *u = g_ptr_array_index(edges, i);

		if (!g_ptr_array_find_with_equal_func(users, u, g_str_equal, NULL))
			g_ptr_array_add(users, g_strdup(u));
	}
	return users;
}

/* @users as a message or event field shows them: "a, b". */
static char *users_join(GPtrArray *users)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < users->len; i++)
		g_string_append_printf(out, "%s%s", i ? ", " : "",
				       (char *)g_ptr_array_index(users, i));
	return g_string_free(out, FALSE);
}

/*
 * Why unloading @name would be refused now: 0, or -errno and *@err.
 * *@users: the live modules that use it (NULL if it is not live).
 */
static int unload_check_locked(const char *name, bool force,
			       GPtrArray **users, char **err) /* Must hold mh_lock. */
{
	struct mh_entry *e = g_hash_table_lookup(entries, name);

	*users = NULL;
	if (!e || e->state != MH_LIVE) {
		*err = g_strdup("unload: not loaded");
		return -ENOENT;
	}
	*users = users_locked(name);
	if ((*users)->len && !force) {
		g_autofree char *list = users_join(*users);

		*err = g_strdup_printf("unload refused: in use by %s", list);
		return -EBUSY;
	}
	return 0;
}

int mh_lifecycle_unload_check(const char *name, bool force, char **err)
{
	g_autoptr(GPtrArray) users = NULL;
	int ret;

	g_mutex_lock(&mh_lock);
	ret = unload_check_locked(name, force, &users, err);
	g_mutex_unlock(&mh_lock);
	return ret;
}

static int apply_unload_locked(struct mh_req *r) /* Must hold mh_lock. */
{
	struct mh_entry *e = g_hash_table_lookup(entries, r->name);
	g_autoptr(GPtrArray) users = NULL;
	g_autofree char *forced = NULL;
	g_autofree char *err = NULL;
	struct mh_module *mod;
	int ret;

	/* Checked before the quiesce too; a user may have come meanwhile. */
	ret = unload_check_locked(r->name, r->force, &users, &err);
	if (ret) {
		mh_lifecycle_reject(r->name, NULL, err);
		return ret;
	}
	mod = e->live;
	module_exit(mod);
	mh_registry_retire(e->name);
	g_ptr_array_remove(live, e);
	e->live = NULL;
	if (users->len)
		forced = users_join(users);
	event_module("unload", e->name, mod->meta->version,
		     &(struct module_event){ .from = origin_names[r->from],
					     .forced_users = forced });
	mh_msg("%s: unloaded", e->name);
	mh_loader_close(mod);
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
		event_module("rollback", e->name, old->meta->version,
			     &(struct module_event){ .error = why });
		mh_err("%s: reload failed, version %s kept: %s", e->name,
		       old->meta->version, why);
		note_error(g_strdup_printf("reload failed, version %s kept: %s",
					   old->meta->version, why));
		return;
	}
	e->live = NULL;
	g_ptr_array_remove(live, e);
	mh_registry_retire(e->name);
	event_module("unload", e->name, old->meta->version,
		     &(struct module_event){ .error = err });
	mh_err("%s: reload failed (%s) and the old version could not be "
	       "restored (%s): unloaded", e->name, why, err);
	note_error(g_strdup_printf("reload failed (%s) and the old version "
				   "could not be restored (%s): unloaded",
				   why, err));
	mh_loader_close(old);
}

static int apply_reload_locked(struct mh_req *r) /* Must hold mh_lock. */
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
		r->kind = MH_REQ_LOAD;
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
	event_module("reload", e->name, new->meta->version,
		     &(struct module_event){ .old_version = old->meta->version,
					     .file = new->file,
					     .from = origin_names[r->from] });
	mh_msg("%s: reloaded %s -> %s", e->name, old->meta->version,
	       new->meta->version);
	mh_loader_close(old);
	return 0;

rollback:
	rollback_locked(e, old, blob, len, err);
	return ret;
refuse:
	event_module("rollback", e->name, old->meta->version,
		     &(struct module_event){ .error = err });
	e->rollbacks++;
	mh_err("%s: reload refused, version %s kept: %s", e->name,
	       old->meta->version, err);
	note_error(g_strdup_printf("reload refused, version %s kept: %s",
				   old->meta->version, err));
	return ret;
}

/*
 * vCPU idle, resume and exit callbacks may come from a vCPU that is not
 * stopped by a quiesce (a halted one is not running, so QEMU's exclusive
 * section does not wait for it): they read the live set under this lock's
 * read side, and an apply holds its write side.  Taken before mh_lock, so
 * a module's callback may take mh_lock (module_of) without a deadlock.
 */
static GRWLock events_lock;

int mh_lifecycle_apply(void)
{
	struct mh_req *r;
	int n = 0;

	g_rw_lock_writer_lock(&events_lock);
	g_mutex_lock(&mh_lock);
	applying = true;
	while ((r = mh_plan_next_locked())) {
		applying_set(r);
		switch (r->kind) {
		case MH_REQ_LOAD:
			r->result = apply_load_locked(r);
			break;
		case MH_REQ_RELOAD:
			r->result = apply_reload_locked(r);
			break;
		case MH_REQ_UNLOAD:
			r->result = apply_unload_locked(r);
			break;
		}
		applying_set(NULL);
		r->done = true;
		n++;
	}
	/* Still every vCPU stopped: what live modules asked to run so. */
	mh_api_run_stopped();
	applying = false;
	mh_plan_done_locked();
	g_mutex_unlock(&mh_lock);
	g_rw_lock_writer_unlock(&events_lock);
	return n;
}

/*
 * @name is live, or is loaded now: from a module's init, inside the running
 * apply, like PANDA's panda_require().  Its prepare() runs here too, in the
 * pause.
 */
int mh_lifecycle_require(const char *name, char **err)
{
	g_autoptr(GPtrArray) plan = mh_plan_new();
	int ret;

	if (mh_lifecycle_is_loaded(name))
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
	ret = mh_plan_load(name, MH_FROM_IMPORT, args->params, plan, err);
	for (guint i = 0; !ret && i < plan->len; i++) {
		struct mh_req *r = g_ptr_array_index(plan, i);

		ret = apply_load_locked(r);
		if (ret)
			*err = g_strdup_printf("loading '%s' failed (see its reject "
					       "event)", r->name);
	}
	return ret;
}

/*
 * The instance at @i of the live set, or NULL once a hook of it crashed:
 * a tainted instance instruments and hears nothing more.
 */
static inline struct mh_module *live_module(guint i)
{
	struct mh_module *m = ((struct mh_entry *)
			       g_ptr_array_index(live, i))->live;

	return m->tainted ? NULL : m;
}

/* vCPU side: the live set only changes while vCPUs are stopped. */
void mh_lifecycle_translate(struct qemu_plugin_tb *tb)
{
	for (guint i = 0; i < live->len; i++) {
		struct mh_module *m = live_module(i);

		if (m && m->translate)
			mh_api_translate(m, tb);
	}
}

/* Like translation: the live set only changes while vCPUs are stopped. */
void mh_lifecycle_vcpu_init(unsigned int vcpu_index)
{
	for (guint i = 0; i < live->len; i++) {
		struct mh_module *m = live_module(i);

		if (m && m->vcpu_init)
			m->vcpu_init(vcpu_index, m->vcpu_init_opaque);
	}
}

/* Like translation: the live set only changes while vCPUs are stopped. */
void mh_lifecycle_late_init(unsigned int vcpu_index)
{
	for (guint i = 0; i < live->len; i++) {
		struct mh_module *m = live_module(i);

		if (m && m->late_init)
			mh_api_late_init_vcpu(m, vcpu_index);
	}
}

/* Does a live module handle @ev (the host registers idle/resume then)? */
bool mh_lifecycle_wants_vcpu_event(enum mh_vcpu_event ev)
{
	for (guint i = 0; i < live->len; i++) {
		struct mh_module *m = live_module(i);

		if (m && m->vcpu_event[ev])
			return true;
	}
	return false;
}

/* A halted vCPU runs these while others apply: under events_lock. */
void mh_lifecycle_vcpu_event(enum mh_vcpu_event ev, unsigned int vcpu_index)
{
	g_rw_lock_reader_lock(&events_lock);
	for (guint i = 0; i < live->len; i++) {
		struct mh_module *m = live_module(i);

		if (m && m->vcpu_event[ev])
			m->vcpu_event[ev](vcpu_index, m->vcpu_event_opaque[ev]);
	}
	g_rw_lock_reader_unlock(&events_lock);
}

/* Every vCPU is stopped: from QEMU's flush callback or a quiesce. */
void mh_lifecycle_flush(void)
{
	for (guint i = 0; i < live->len; i++) {
		struct mh_module *m = live_module(i);

		if (m && m->flush)
			m->flush(m->flush_opaque);
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

int mh_lifecycle_init(const struct mh_host_args *a, char **err)
{
	args = a;
	if (!g_file_test(a->dir, G_FILE_TEST_IS_DIR)) {
		*err = g_strdup_printf("dir=%s: not a directory", a->dir);
		return -ENOTDIR;
	}
	entries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, entry_free);
	live = g_ptr_array_new();
	mh_scripthost_init();
	return 0;
}

static bool qemu_exiting;

bool mh_lifecycle_exiting(void)
{
	return qemu_exiting;
}

void mh_lifecycle_exit(void)
{
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
		event_module("unload", e->name, e->live->meta->version,
			     &(struct module_event){ .from = "exit" });
	}
	exiting_hooks = false;
	g_mutex_unlock(&mh_lock);
}

/* -- pauses and errors of the applied requests, queries ------------------ */

/* Names of the requests applied in the running quiesce; under mh_lock. */
static GPtrArray *last_applied;

/* On the applying thread, while @r is applied (for note_error). */
static void applying_set(struct mh_req *r)
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

static gint entry_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp((*(struct mh_entry *const *)a)->name,
		      (*(struct mh_entry *const *)b)->name);
}

static void call_with_users_locked(struct mh_entry *e, mh_entry_fn fn,
				   void *opaque) /* Must hold mh_lock. */
{
	g_autoptr(GPtrArray) users = users_locked(e->name);

	fn(e, users, opaque);
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
