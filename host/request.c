// SPDX-License-Identifier: MIT
/*
 * The front-end requests: what the control socket (mh_request), the guest
 * (mh_request_async, run by a worker thread), the watcher and start-up
 * (mh_request_load/unload, mh_request_start) ask of the lifecycle, and the
 * parameters each module gets at its next load.
 *
 * A request plans (plan.c), queues and waits for its plan to be applied;
 * req_lock lets one requester at a time do that, so plans never interleave.
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

static GMutex req_lock;		/* one requester at a time */
static const struct mh_host_args *args;

/* -- parameters for the next load -------------------------------------- */

/*
 * args->params (MODULE.PARAM values for the next load) is read by
 * mh_plan_load() under req_lock.  The control socket also changes it (param,
 * load NAME KEY=VALUE) and reads it (info) without waiting for req_lock,
 * which a request holds until it is applied: so writers hold both locks,
 * readers either.
 */
static GMutex param_lock;

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
	while (g_hash_table_iter_next(&it, &k, &v)) {
		const char *before = g_hash_table_lookup(merged, k);

		/* The order given: these come after the earlier ones. */
		if (mh_param_is_order(k) && before)
			v = g_strconcat(before, "\n", v, NULL);
		else
			v = g_strdup(v);
		g_hash_table_insert(merged, g_strdup(k), v);
	}
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

/* The declaration of @name's parameter @key, checked against @value. */
static int param_check(const char *name, const char *key, const char *value,
		       char **err)
{
	g_autofree char *path = mh_lifecycle_path(name);
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
	if (!d && meta->any_params) {
		ret = 0;
	} else if (!d) {
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

int mh_request_param_set(const char *name, const char *key,
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
	mh_param_order_add(mp, key, value);
	g_mutex_unlock(&param_lock);
	g_mutex_unlock(&req_lock);
	return 0;
}

GHashTable *mh_request_params(const char *name)
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

/* Check parameters given for modules whose files are there now. */
static int check_params(char **err)
{
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, args->params);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		g_autofree char *path = mh_lifecycle_path(k);
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

			if (mh_param_is_order(pk) || (!d && meta->any_params))
				continue;
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
		g_autofree char *path = mh_lifecycle_path(k);
		g_autoptr(GPtrArray) names = g_ptr_array_new();
		g_autofree char *list = NULL;
		bool waiting;

		if (mh_lifecycle_is_loaded(k))
			continue;
		g_hash_table_iter_init(&pit, v);
		while (g_hash_table_iter_next(&pit, &pk, NULL))
			if (!mh_param_is_order(pk))
				g_ptr_array_add(names, pk);
		g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
		g_ptr_array_add(names, NULL);
		list = g_strjoinv(", ", (char **)names->pdata);
		/* In dir: they wait for its load.  Not: most likely a typo. */
		waiting = g_file_test(path, G_FILE_TEST_EXISTS);
		for (guint i = 0; i + 1 < names->len; i++) {
			GString *ev = mh_event_new("param_unused");

			mh_event_str(ev, "module", k);
			mh_event_str(ev, "param", g_ptr_array_index(names, i));
			mh_event_bool(ev, "waiting", waiting);
			mh_event_emit(ev);
		}
		if (waiting) {
			mh_msg("%s is not loaded: its parameters (%s) apply when "
			       "it is", (char *)k, list);
			continue;
		}
		mh_err("warning: parameters for module '%s' (%s) are unused: it "
		       "is not loaded and there is no %s", (char *)k, list, path);
	}
}

int mh_request_init(const struct mh_host_args *a, char **err)
{
	args = a;
	return check_params(err);
}

/* -- load and unload ------------------------------------------------------ */

/*
 * Plan loading @name into @plan.  A failure is rejected at once (event and
 * error line) and *@err says why, naming the file.
 */
static int plan_or_reject(const char *name, enum mh_origin from,
			  GPtrArray *plan, char **err) /* Must hold req_lock. */
{
	g_autofree char *why = NULL;
	int ret;

	ret = mh_plan_load(name, from, args->params, plan, &why);
	if (ret) {
		g_autofree char *path = mh_lifecycle_path(name);

		mh_lifecycle_reject(name, path, why);
		*err = g_strdup_printf("%s: %s", path, why);
	}
	return ret;
}

static int request_load(const char *name, enum mh_origin from, bool direct)
{
	g_autoptr(GPtrArray) plan = mh_plan_new();
	g_autofree char *err = NULL;
	int ret;

	g_mutex_lock(&req_lock);
	ret = plan_or_reject(name, from, plan, &err);
	if (!ret)
		ret = mh_plan_submit(plan, direct);
	g_mutex_unlock(&req_lock);
	return ret;
}

int mh_request_load(const char *name, enum mh_origin from)
{
	return request_load(name, from, false);
}

/*
 * Submit unloading @name (alone in @plan), unless it would be refused: that
 * is said at once, without pausing the guest for nothing (the pause would
 * also become the module's last pause in stats).
 */
static int submit_unload(GPtrArray *plan, const char *name, bool force,
			 enum mh_origin from) /* Must hold req_lock. */
{
	struct mh_req *r = mh_plan_req_new(MH_REQ_UNLOAD, name, NULL, force,
					   from);
	char *err = NULL;
	int ret;

	g_ptr_array_add(plan, r);
	ret = mh_lifecycle_unload_check(name, force, &err);
	if (!ret)
		return mh_plan_submit(plan, false);
	mh_lifecycle_reject(name, NULL, err);
	r->error = err;
	r->result = ret;
	r->done = true;
	return ret;
}

int mh_request_unload(const char *name, bool force, enum mh_origin from)
{
	g_autoptr(GPtrArray) plan = mh_plan_new();
	int ret;

	g_mutex_lock(&req_lock);
	ret = submit_unload(plan, name, force, from);
	g_mutex_unlock(&req_lock);
	return ret;
}

int mh_request_start(char **err)
{
	for (char **n = args->load; n && *n; n++) {
		if (mh_lifecycle_is_loaded(*n))
			continue;
		if (request_load(*n, MH_FROM_START, true)) {
			*err = g_strdup_printf("load=: could not load '%s'", *n);
			return -EINVAL;
		}
	}
	warn_unused_params();
	return 0;
}

int mh_request(enum mh_req_kind kind, const char *name, GHashTable *params,
	       bool force, enum mh_origin from, char **err)
{
	g_autoptr(GPtrArray) plan = mh_plan_new();
	GHashTable *old_params = NULL;
	bool merged = false;
	int ret;

	g_mutex_lock(&req_lock);
	/* The watcher turns a load of a live module into a reload; a user
	 * who typed "load" or "reload" meant exactly that. */
	if (kind == MH_REQ_LOAD && mh_lifecycle_is_loaded(name)) {
		*err = g_strdup_printf("'%s' is already loaded (use reload)", name);
		ret = -EEXIST;
		goto out;
	}
	if (kind != MH_REQ_LOAD && !mh_lifecycle_is_loaded(name)) {
		*err = g_strdup_printf("'%s' is not loaded", name);
		ret = -ENOENT;
		goto out;
	}
	if (kind == MH_REQ_UNLOAD) {
		ret = submit_unload(plan, name, force, from);
	} else {
		if (params && g_hash_table_size(params)) {
			old_params = params_merge_locked(name, params);
			merged = true;
		}
		ret = plan_or_reject(name, from, plan, err);
		if (ret)
			goto out;
		ret = mh_plan_submit(plan, false);
	}
	if (ret) {
		for (guint i = 0; i < plan->len && !*err; i++) {
			struct mh_req *r = g_ptr_array_index(plan, i);

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

/* -- guest requests -------------------------------------------------------- */

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
	mh_event_str(ev, "from", mh_lifecycle_origin(a->from));
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

void mh_request_cancel(void)
{
	GThreadPool *pool;

	mh_plan_cancel();
	/* Guest requests not started are dropped; a running one is cancelled. */
	g_mutex_lock(&async_lock);
	pool = g_steal_pointer(&async_pool);
	async_closed = true;
	g_mutex_unlock(&async_lock);
	if (pool)
		g_thread_pool_free(pool, TRUE, TRUE);
}
