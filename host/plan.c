// SPDX-License-Identifier: MIT
/*
 * Planning and the request queue: the requester's half of a change.
 *
 * A load is planned on a host thread while the guest runs: the module's
 * file and, depth first, every module it requires that is not live are
 * checked, their imports matched against their providers' exports, mapped,
 * and their prepare() run.  The plan (requests in the order they must be
 * applied) is then queued; a quiesce applies it (lifecycle.c) and the
 * requester waits here for the results.
 *
 * The queue, the requests' results and shutting_down are guarded by
 * mh_lock (lifecycle.c), which the applying half holds while it pops them.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static GCond mh_cond;		/* a request was applied; with mh_lock */
static GQueue queue = G_QUEUE_INIT;
static bool shutting_down;	/* QEMU exits: nothing more is applied */

struct mh_req *mh_plan_req_new(enum mh_req_kind kind, const char *name,
			       struct mh_module *mod, bool force,
			       enum mh_origin from)
{
	struct mh_req *r = g_new0(struct mh_req, 1);

	r->kind = kind;
	r->name = g_strdup(name);
	r->mod = mod;
	r->force = force;
	r->from = from;
	return r;
}

void mh_plan_req_free(struct mh_req *r)
{
	if (r->mod)
		mh_loader_close(r->mod);
	g_free(r->name);
	g_free(r->error);
	g_free(r);
}

GPtrArray *mh_plan_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)mh_plan_req_free);
}

static bool planned(GPtrArray *plan, const char *name)
{
	for (guint i = 0; i < plan->len; i++) {
		struct mh_req *r = g_ptr_array_index(plan, i);

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
		struct mh_req *r = g_ptr_array_index(plan, i);
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
		     GHashTable *params, GPtrArray *plan, GHashTable *visiting,
		     char **err)
{
	g_autofree char *path = mh_lifecycle_path(name);
	struct mh_module *mod = NULL;
	bool is_live;
	int ret;

	if (g_hash_table_contains(visiting, name)) {
		*err = g_strdup_printf("dependency cycle through '%s'", name);
		return -ELOOP;
	}
	if (planned(plan, name))
		return 0;
	is_live = mh_lifecycle_is_loaded(name);
	if (is_live && !root)
		return 0;

	/* Required modules are planned before any code of this one runs. */
	ret = mh_loader_check(path, name, g_hash_table_lookup(params, name),
			      &mod, err);
	if (ret)
		return ret;

	g_autoptr(GPtrArray) req = mh_meta_requires(mod->meta);

	g_hash_table_add(visiting, (gpointer)name);
	for (guint i = 0; i < req->len && !ret; i++) {
		const char *dep = g_ptr_array_index(req, i);
		g_autofree char *why = NULL;

		ret = plan_load(dep, false, from, params, plan, visiting, &why);
		if (ret)
			*err = g_strdup_printf("required module '%s': %s", dep, why);
	}
	g_hash_table_remove(visiting, name);
	if (!ret)
		ret = check_import_sigs(mod, plan, err);
	if (ret)
		goto fail;
	ret = mh_loader_map(mod, err);
	if (ret)
		goto fail;
	ret = mh_lifecycle_prepare(mod, err);
	if (ret)
		goto fail;
	g_ptr_array_add(plan, mh_plan_req_new(is_live ? MH_REQ_RELOAD :
					      MH_REQ_LOAD, name, mod, false,
					      from));
	return 0;
fail:
	mh_loader_close(mod);
	return ret;
}

int mh_plan_load(const char *name, enum mh_origin from, GHashTable *params,
		 GPtrArray *plan, char **err)
{
	g_autoptr(GHashTable) visiting = g_hash_table_new(g_str_hash, g_str_equal);

	return plan_load(name, true, from, params, plan, visiting, err);
}

int mh_plan_submit(GPtrArray *plan, bool direct)
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
		struct mh_req *r = g_ptr_array_index(plan, i);

		while (!r->done)
			g_cond_wait(&mh_cond, &mh_lock);
		if (r->result && !ret)
			ret = r->result;
	}
	g_mutex_unlock(&mh_lock);
	return ret;
}

struct mh_req *mh_plan_next_locked(void) /* Must hold mh_lock. */
{
	return g_queue_pop_head(&queue);
}

void mh_plan_done_locked(void) /* Must hold mh_lock. */
{
	g_cond_broadcast(&mh_cond);
}

bool mh_plan_pending(void)
{
	bool ret;

	g_mutex_lock(&mh_lock);
	ret = !g_queue_is_empty(&queue);
	g_mutex_unlock(&mh_lock);
	return ret;
}

void mh_plan_cancel(void)
{
	g_mutex_lock(&mh_lock);
	shutting_down = true;
	/* Nobody will apply what is still queued: fail it. */
	while (!g_queue_is_empty(&queue)) {
		struct mh_req *r = g_queue_pop_head(&queue);

		r->result = -ECANCELED;
		r->done = true;
	}
	g_cond_broadcast(&mh_cond);
	g_mutex_unlock(&mh_lock);
}
