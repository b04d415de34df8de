// SPDX-License-Identifier: MIT
/*
 * The control socket (ctl=PATH): lsmod, insmod, rmmod and modinfo for a
 * running guest, spoken by modctl.
 *
 * A request is one line of words (ctlparse.c); the reply is one JSON object
 * on one line, {"ok":true,...} or {"ok":false,"error":"..."}.
 *
 * One thread ("modhost-ctl") serves every client with poll().  It answers
 * queries (list, info, stats, ...) itself, from a snapshot taken under
 * lifecycle.c's lock.  Requests that change modules go to a worker thread
 * instead: they run the same lifecycle requests as the watcher, which block
 * until a vCPU answers the doorbell, and that is forever while the guest is
 * paused; the other clients must still get answers meanwhile.  The worker
 * runs one request at a time, as the watcher does.
 *
 * A client's next line is only looked at once the reply to its previous one
 * is queued, so replies come in request order; while it waits, the host
 * stops reading from it, and the kernel's socket buffer holds what it sends.
 * A client that goes away mid-request harms nothing: a partial line is
 * dropped, and a request already with the worker completes (as insmod does
 * when killed) with its reply thrown away.
 *
 * Clients cannot starve each other of a place: one that sends no complete
 * line for IDLE_SECS (and has no request with the worker) is told so and
 * closed, and one over MAX_CLIENTS is answered "too many clients" at once
 * and closed, rather than left waiting in the listen backlog in silence.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"

#define MAX_CLIENTS 64
/*
 * A client that has not sent a whole request for this long is closed.
 * modctl sends its request as soon as it connects; a script keeping a
 * connection open (modctl --raw) must send within this time.
 */
#define IDLE_SECS 10
/* Connections accepted per poll() round, so a flood cannot starve replies. */
#define ACCEPT_BURST 32
/* A client that sends requests but never reads replies stops being read. */
#define OUT_MAX (1u << 20)

struct client {
	uint64_t id;
	int fd;
	GByteArray *in;		/* received, not yet handled */
	GString *out;		/* replies not yet sent */
	bool discarding;	/* in an over-long line: drop up to its newline */
	bool busy;		/* a request of this client is with the worker */
	bool eof;		/* the client shut its sending side */
	bool dead;		/* close it */
	int64_t since;		/* monotonic µs: connected, or last request */
};

/* A request for the worker, and its reply on the way back. */
struct job {
	uint64_t client;
	struct mh_ctl_req req;
	GString *reply;
};

static char *sock_path;
static dev_t sock_dev;
static ino_t sock_ino;
static int listen_fd = -1;
static int wake_pipe[2] = { -1, -1 };	/* quit, or a job is done */
static GMutex push_lock;		/* worker, stopping */
static bool stopping;			/* QEMU exits: no new request runs */
static int quit;			/* the control thread ends */
static GThread *thread;
static GThreadPool *worker;
static GAsyncQueue *done_jobs;		/* struct job, replies to deliver */

/* -- JSON ------------------------------------------------------------- */

static const char *const state_names[] = {
	[MH_UNFORMED] = "unformed",
	[MH_COMING] = "coming",
	[MH_LIVE] = "live",
	[MH_GOING] = "going",
};

static void kv_strs(GString *o, const char *key, GPtrArray *strs)
{
	mh_json_key(o, key);
	mh_json_arr_begin(o);
	for (guint i = 0; strs && i < strs->len; i++)
		mh_json_str(o, g_ptr_array_index(strs, i));
	mh_json_arr_end(o);
}

static void reply_ok(GString *o)
{
	mh_json_obj_begin(o);
	mh_json_kv_bool(o, "ok", true);
}

static void reply_end(GString *o)
{
	mh_json_obj_end(o);
	g_string_append_c(o, '\n');
}

static void reply_error(GString *o, const char *error)
{
	mh_json_obj_begin(o);
	mh_json_kv_bool(o, "ok", false);
	mh_json_kv_str(o, "error", error);
	reply_end(o);
}

static uint64_t counter(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* -- queries (the control thread) ------------------------------------- */

/* The fields list and stats share. */
static void entry_head(GString *o, const struct mh_entry *e, GPtrArray *users)
{
	mh_json_obj_begin(o);
	mh_json_kv_str(o, "name", e->name);
	mh_json_kv_str(o, "version", e->live ? e->live->meta->version : NULL);
	mh_json_kv_str(o, "state", state_names[e->state]);
	kv_strs(o, "used_by", users);
	mh_json_kv_uint(o, "loads", e->loads);
	mh_json_kv_uint(o, "reloads", e->reloads);
	mh_json_kv_uint(o, "rollbacks", e->rollbacks);
}

static void list_one(const struct mh_entry *e, GPtrArray *users, void *opaque)
{
	GString *o = opaque;

	entry_head(o, e, users);
	mh_json_kv_str(o, "file", e->live ? e->live->file : NULL);
	mh_json_kv_bool(o, "tainted", e->live && e->live->tainted);
	mh_json_obj_end(o);
}

static void stats_one(const struct mh_entry *e, GPtrArray *users, void *opaque)
{
	GString *o = opaque;

	entry_head(o, e, users);
	mh_json_kv_int(o, "last_pause_us", e->last_pause_us);
	mh_json_kv_uint(o, "callbacks", counter(&e->callbacks));
	mh_json_kv_uint(o, "inline_ops", counter(&e->inline_ops));
	mh_json_kv_uint(o, "hypercalls", counter(&e->hypercalls));
	if (mh_api_accounting()) {
		mh_json_kv_uint(o, "cb_calls", counter(&e->cb_calls));
		mh_json_kv_uint(o, "cb_ns", counter(&e->cb_ns));
	} else {
		/* Not measured: null, not a zero that looks like one. */
		mh_json_key(o, "cb_calls");
		mh_json_null(o);
		mh_json_key(o, "cb_ns");
		mh_json_null(o);
	}
	mh_json_obj_end(o);
}

static void query_modules(GString *o, bool stats)
{
	reply_ok(o);
	if (stats)
		mh_json_kv_bool(o, "accounting", mh_api_accounting());
	mh_json_key(o, "modules");
	mh_json_arr_begin(o);
	mh_lifecycle_foreach(!stats, stats ? stats_one : list_one, o);
	mh_json_arr_end(o);
	reply_end(o);
}

/* Metadata, from the live instance or from the file in dir. */
static void meta_fields(GString *o, const struct mh_meta *m,
			GHashTable *values, GHashTable *next)
{
	g_autofree char *abi = g_strdup_printf("%u.%u", m->abi_major,
					       m->abi_minor);

	mh_json_kv_str(o, "version", m->version);
	mh_json_kv_str(o, "license", m->license);
	mh_json_kv_str(o, "description", m->description);
	mh_json_kv_str(o, "abi", abi);
	kv_strs(o, "depends", m->depends);
	/* targets= (absent: every target) */
	if (m->targets) {
		mh_json_key(o, "targets");
		mh_json_arr_begin(o);
		for (char **t = m->targets; *t; t++)
			mh_json_str(o, *t);
		mh_json_arr_end(o);
	}
	mh_json_key(o, "exports");
	mh_json_arr_begin(o);
	for (guint i = 0; m->exports && i < m->exports->len; i++) {
		const struct mh_meta_sym *s = g_ptr_array_index(m->exports, i);

		mh_json_obj_begin(o);
		mh_json_kv_str(o, "name", s->name);
		mh_json_kv_str(o, "signature", s->sig);
		mh_json_obj_end(o);
	}
	mh_json_arr_end(o);
	mh_json_key(o, "imports");
	mh_json_arr_begin(o);
	for (guint i = 0; m->imports && i < m->imports->len; i++) {
		const struct mh_meta_sym *s = g_ptr_array_index(m->imports, i);

		mh_json_obj_begin(o);
		mh_json_kv_str(o, "module", s->module);
		mh_json_kv_str(o, "name", s->name);
		mh_json_kv_str(o, "signature", s->sig);
		mh_json_obj_end(o);
	}
	mh_json_arr_end(o);
	mh_json_key(o, "params");
	mh_json_arr_begin(o);
	for (guint i = 0; i < m->params->len; i++) {
		const struct mh_param_decl *d = g_ptr_array_index(m->params, i);
		const char *n = next ? g_hash_table_lookup(next, d->name) : NULL;

		mh_json_obj_begin(o);
		mh_json_kv_str(o, "name", d->name);
		mh_json_kv_str(o, "type", mh_ptype_name(d->type));
		mh_json_kv_str(o, "default", d->def);
		mh_json_kv_str(o, "help", d->help);
		if (values)
			mh_json_kv_str(o, "value",
				       g_hash_table_lookup(values, d->name));
		/* What the next load or reload gets. */
		mh_json_kv_str(o, "next", n ? n : d->def);
		mh_json_obj_end(o);
	}
	mh_json_arr_end(o);
}

/*
 * "args": every parameter this load was given, "KEY=VALUE" in the order
 * given, declared or not (what a QEMU plugin got as argv).
 */
static void args_field(GString *o, GHashTable *params)
{
	const char *order = g_hash_table_lookup(params, MH_PARAM_ORDER);
	g_auto(GStrv) args = g_strsplit(order ? order : "", "\n", -1);

	mh_json_key(o, "args");
	mh_json_arr_begin(o);
	for (guint i = 0; args[i]; i++)
		if (*args[i])
			mh_json_str(o, args[i]);
	mh_json_arr_end(o);
}

struct info_ctx {
	GString *o;
	GHashTable *next;
	bool live;
};

static void info_entry(const struct mh_entry *e, GPtrArray *users,
		       void *opaque)
{
	struct info_ctx *x = opaque;

	if (e->state != MH_LIVE || !e->live)
		return;
	x->live = true;
	reply_ok(x->o);
	mh_json_kv_str(x->o, "name", e->name);
	mh_json_kv_str(x->o, "state", state_names[e->state]);
	mh_json_kv_str(x->o, "file", e->live->file);
	meta_fields(x->o, e->live->meta, e->live->params, x->next);
	args_field(x->o, e->live->params);
	kv_strs(x->o, "used_by", users);
	mh_json_kv_uint(x->o, "loads", e->loads);
	mh_json_kv_uint(x->o, "reloads", e->reloads);
	mh_json_kv_uint(x->o, "rollbacks", e->rollbacks);
	mh_json_kv_bool(x->o, "tainted", e->live->tainted);
	reply_end(x->o);
}

static void query_info(GString *o, const char *name)
{
	g_autoptr(GHashTable) next = mh_request_params(name);
	struct info_ctx x = { .o = o, .next = next };
	g_autofree char *file = g_strdup_printf("%s.so", name);
	g_autofree char *path = g_build_filename(mh_lifecycle_dir(), file, NULL);
	g_autofree char *why = NULL;
	struct mh_meta *m = NULL;
	int ret;

	mh_lifecycle_with(name, info_entry, &x);
	if (x.live)
		return;
	/* Not loaded: what loading it would load, like modinfo. */
	ret = mh_meta_read(path, &m, &why);
	if (ret == -ENOENT) {
		g_autofree char *e = g_strdup_printf("no module '%s': not loaded "
						     "and no %s in %s", name,
						     file, mh_lifecycle_dir());
		reply_error(o, e);
		return;
	}
	if (ret) {
		g_autofree char *e = g_strdup_printf("%s: %s", path, why);

		reply_error(o, e);
		return;
	}
	reply_ok(o);
	mh_json_kv_str(o, "name", name);
	mh_json_kv_str(o, "state", "unformed");
	mh_json_kv_str(o, "file", path);
	meta_fields(o, m, NULL, next);
	mh_meta_free(m);
	reply_end(o);
}

static void query_list(GString *o, const char *key,
		       void (*fill)(GString *json))
{
	reply_ok(o);
	mh_json_key(o, key);
	fill(o);
	reply_end(o);
}

static void version_of(const struct mh_entry *e, GPtrArray *users,
		       void *opaque)
{
	(void)users;
	if (e->state == MH_LIVE && e->live)
		*(char **)opaque = g_strdup(e->live->meta->version);
}

/* The live version of @name, or NULL. */
static char *live_version(const char *name)
{
	char *v = NULL;

	mh_lifecycle_with(name, version_of, &v);
	return v;
}

/* route and unroute change no module: answered at once, like a query. */
static void change_route(GString *o, const struct mh_ctl_req *req)
{
	g_autofree char *err = NULL, *magic = NULL, *to = NULL;
	g_autofree char *version = NULL;
	int ret;

	if (req->cmd == MH_CTL_ROUTE) {
		version = live_version(req->name);
		ret = mh_hypercall_route_add(req->magic, req->name, req->symbol,
					     version != NULL, &err);
	} else {
		ret = mh_hypercall_route_del(req->magic, &err);
	}
	if (ret) {
		reply_error(o, err ? err : g_strerror(-ret));
		return;
	}
	magic = g_strdup_printf("0x%08" PRIx32, req->magic);
	reply_ok(o);
	mh_json_kv_str(o, "magic", magic);
	if (req->cmd == MH_CTL_ROUTE) {
		to = g_strdup_printf("%s.%s", req->name, req->symbol);
		mh_json_kv_str(o, "route", to);
		mh_json_kv_bool(o, "live", version != NULL);
	}
	reply_end(o);
}

static void answer_query(GString *o, const struct mh_ctl_req *req)
{
	switch (req->cmd) {
	case MH_CTL_LIST:
		query_modules(o, false);
		break;
	case MH_CTL_STATS:
		query_modules(o, true);
		break;
	case MH_CTL_INFO:
		query_info(o, req->name);
		break;
	case MH_CTL_SYMBOLS:
		query_list(o, "symbols", mh_registry_describe);
		break;
	case MH_CTL_ROUTES:
		query_list(o, "routes", mh_hypercall_describe);
		break;
	case MH_CTL_ROUTE:
	case MH_CTL_UNROUTE:
		change_route(o, req);
		break;
	default:
		g_assert_not_reached();
	}
}

/* -- requests (the worker thread) ------------------------------------- */

static void run_request(GString *o, const struct mh_ctl_req *req)
{
	g_autofree char *before = live_version(req->name);
	g_autofree char *after = NULL;
	g_autofree char *err = NULL;
	const char *key, *val;
	GHashTableIter it;
	int ret;

	switch (req->cmd) {
	case MH_CTL_LOAD:
		ret = mh_request(MH_REQ_LOAD, req->name, req->params, false,
				 MH_FROM_CTL, &err);
		break;
	case MH_CTL_RELOAD:
		ret = mh_request(MH_REQ_RELOAD, req->name, NULL, false,
				 MH_FROM_CTL, &err);
		break;
	case MH_CTL_UNLOAD:
		ret = mh_request(MH_REQ_UNLOAD, req->name, NULL, req->force,
				 MH_FROM_CTL, &err);
		break;
	case MH_CTL_PARAM:
		/* Its one KEY=VALUE, past the order line mh_param_add() keeps. */
		g_hash_table_iter_init(&it, req->params);
		while (g_hash_table_iter_next(&it, (gpointer *)&key,
					      (gpointer *)&val) &&
		       mh_param_is_order(key))
			;
		ret = mh_request_param_set(req->name, key, val, &err);
		if (ret)
			break;
		reply_ok(o);
		mh_json_kv_str(o, "module", req->name);
		mh_json_kv_str(o, "param", key);
		mh_json_kv_str(o, "value", val);
		mh_json_kv_str(o, "applies", before ? "next reload" : "next load");
		reply_end(o);
		return;
	default:
		g_assert_not_reached();
	}
	if (ret) {
		reply_error(o, err ? err : g_strerror(-ret));
		return;
	}
	after = live_version(req->name);
	reply_ok(o);
	mh_json_kv_str(o, "module", req->name);
	if (req->cmd == MH_CTL_UNLOAD) {
		mh_json_kv_str(o, "version", before);
	} else {
		mh_json_kv_str(o, "version", after);
		if (req->cmd == MH_CTL_RELOAD)
			mh_json_kv_str(o, "old_version", before);
	}
	reply_end(o);
}

static void wake(char why)
{
	/* A full pipe already holds a wake-up: nothing is lost. */
	if (write(wake_pipe[1], &why, 1) < 0 && errno != EAGAIN)
		mh_err("ctl: cannot wake the control thread: %s",
		       g_strerror(errno));
}

static void worker_run(gpointer data, gpointer user_data)
{
	struct job *j = data;
	bool stop;

	(void)user_data;
	j->reply = g_string_new(NULL);
	g_mutex_lock(&push_lock);
	stop = stopping;
	g_mutex_unlock(&push_lock);
	if (stop)
		reply_error(j->reply, "QEMU is exiting: request cancelled");
	else
		run_request(j->reply, &j->req);
	g_async_queue_push(done_jobs, j);
	wake('j');
}

static void job_free(struct job *j)
{
	mh_ctl_req_clear(&j->req);
	if (j->reply)
		g_string_free(j->reply, TRUE);
	g_free(j);
}

/* -- clients (the control thread) ------------------------------------- */

static GPtrArray *clients;	/* struct client */
static uint64_t next_client_id = 1;

static void client_free(struct client *c)
{
	close(c->fd);
	g_byte_array_unref(c->in);
	g_string_free(c->out, TRUE);
	g_free(c);
}

static void handle_line(struct client *c, const char *line, size_t len)
{
	struct mh_ctl_req req;
	g_autofree char *err = NULL;
	struct job *j;

	c->since = g_get_monotonic_time();
	if (mh_ctl_parse(line, len, &req, &err)) {
		reply_error(c->out, err);
		return;
	}
	if (!mh_ctl_changes_modules(req.cmd)) {
		answer_query(c->out, &req);
		mh_ctl_req_clear(&req);
		return;
	}
	g_mutex_lock(&push_lock);
	if (stopping) {
		g_mutex_unlock(&push_lock);
		reply_error(c->out, "QEMU is exiting: request cancelled");
		mh_ctl_req_clear(&req);
		return;
	}
	j = g_new0(struct job, 1);
	j->client = c->id;
	j->req = req;
	c->busy = true;
	g_thread_pool_push(worker, j, NULL);
	g_mutex_unlock(&push_lock);
}

/* Handle the complete lines received, until one goes to the worker. */
static void client_process(struct client *c)
{
	while (!c->busy && !c->dead) {
		guint8 *nl = c->in->len ? memchr(c->in->data, '\n', c->in->len)
					: NULL;
		size_t len;

		if (!nl) {
			/* Over the limit and no end in sight: say so once,
			 * then drop the rest of the line as it comes. */
			if (c->in->len > MH_CTL_LINE_MAX + 1) {
				if (!c->discarding)
					reply_error(c->out, "request longer than "
						    G_STRINGIFY(MH_CTL_LINE_MAX)
						    " bytes");
				c->discarding = true;
				g_byte_array_set_size(c->in, 0);
			}
			break;
		}
		len = nl - c->in->data;
		if (c->discarding)
			c->discarding = false;	/* the over-long line's end */
		else
			handle_line(c, (const char *)c->in->data, len);
		g_byte_array_remove_range(c->in, 0, len + 1);
	}
	if (c->eof && !c->busy && !c->out->len)
		c->dead = true;
}

static void client_read(struct client *c)
{
	guint8 buf[4096];
	ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;
		return;
	}
	if (n == 0) {
		/* A line without its newline is a request cut short: drop. */
		guint8 *nl = c->in->len ? memrchr(c->in->data, '\n', c->in->len)
					: NULL;

		g_byte_array_set_size(c->in, nl ? (guint)(nl - c->in->data) + 1 : 0);
		c->eof = true;
	} else {
		g_byte_array_append(c->in, buf, n);
	}
	client_process(c);
}

static void client_write(struct client *c)
{
	ssize_t n = send(c->fd, c->out->str, c->out->len,
			 MSG_NOSIGNAL | MSG_DONTWAIT);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			c->dead = true;	/* gone: EPIPE, ECONNRESET */
		return;
	}
	g_string_erase(c->out, 0, n);
	if (c->eof && !c->busy && !c->out->len)
		c->dead = true;
}

static struct client *client_find(uint64_t id)
{
	for (guint i = 0; i < clients->len; i++) {
		struct client *c = g_ptr_array_index(clients, i);

		if (c->id == id)
			return c;
	}
	return NULL;
}

static void deliver_replies(void)
{
	struct job *j;

	while ((j = g_async_queue_try_pop(done_jobs))) {
		struct client *c = client_find(j->client);

		/* Its client may have gone: the reply goes nowhere. */
		if (c && !c->dead) {
			g_string_append_len(c->out, j->reply->str, j->reply->len);
			c->busy = false;
			/* Its idle time starts when its request is done. */
			c->since = g_get_monotonic_time();
			client_process(c);
		}
		job_free(j);
	}
}

/* One last line to a client about to be closed: one try, no waiting. */
static void say_goodbye(int fd, const char *error)
{
	g_autoptr(GString) o = g_string_new(NULL);
	char drain[4096];

	reply_error(o, error);
	if (send(fd, o->str, o->len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		return;		/* gone, or not reading: nothing to tell */
	/*
	 * Read what it already sent: closing a unix socket with unread data
	 * makes the peer's next read fail with ECONNRESET instead of EOF.
	 */
	for (int i = 0; i < 16; i++) {
		if (recv(fd, drain, sizeof(drain), MSG_DONTWAIT) <= 0)
			break;
	}
}

/* Accept what waits in the backlog, up to ACCEPT_BURST. */
static void accept_clients(void)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = accept4(listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct client *c;

		if (fd < 0)
			return;	/* EAGAIN, or the client already left */
		if (clients->len >= MAX_CLIENTS) {
			say_goodbye(fd, "too many clients ("
				    G_STRINGIFY(MAX_CLIENTS) ")");
			close(fd);
			continue;
		}
		c = g_new0(struct client, 1);
		c->id = next_client_id++;
		c->fd = fd;
		c->in = g_byte_array_new();
		c->out = g_string_new(NULL);
		c->since = g_get_monotonic_time();
		g_ptr_array_add(clients, c);
	}
}

/*
 * Close the clients idle for IDLE_SECS; return the poll() timeout, in ms,
 * until the next one would be (-1: none can be).  A client whose request
 * is with the worker is waiting for the host, not idle.
 */
static int drop_idle(void)
{
	int64_t now = g_get_monotonic_time();
	int64_t next = -1;

	for (guint i = 0; i < clients->len; i++) {
		struct client *c = g_ptr_array_index(clients, i);
		int64_t end = c->since + IDLE_SECS * G_USEC_PER_SEC;

		if (c->busy || c->dead)
			continue;
		if (now >= end) {
			/* Not amid a reply it has not read: no torn line. */
			if (!c->out->len)
				say_goodbye(c->fd, "no request for "
					    G_STRINGIFY(IDLE_SECS) " s: closing");
			c->dead = true;
		} else if (next < 0 || end - now < next) {
			next = end - now;
		}
	}
	return next < 0 ? -1 : (int)((next + 999) / 1000);
}

static void reap_dead(void)
{
	for (guint i = clients->len; i-- > 0;) {
		if (((struct client *)g_ptr_array_index(clients, i))->dead)
			g_ptr_array_remove_index(clients, i);
	}
}

static gpointer ctl_thread(gpointer data)
{
	g_autoptr(GArray) pfds = g_array_new(FALSE, FALSE, sizeof(struct pollfd));

	(void)data;
	clients = g_ptr_array_new_with_free_func((GDestroyNotify)client_free);
	for (;;) {
		struct pollfd p = { .fd = wake_pipe[0], .events = POLLIN };
		guint nclients;
		char drain[64];
		int timeout;

		timeout = drop_idle();
		reap_dead();
		nclients = clients->len;
		g_array_set_size(pfds, 0);
		g_array_append_val(pfds, p);
		/* Always: past MAX_CLIENTS, a new one is told so and closed. */
		p = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		g_array_append_val(pfds, p);
		for (guint i = 0; i < nclients; i++) {
			struct client *c = g_ptr_array_index(clients, i);

			p = (struct pollfd){ .fd = c->fd };
			if (!c->busy && !c->eof && c->out->len < OUT_MAX)
				p.events |= POLLIN;
			if (c->out->len)
				p.events |= POLLOUT;
			g_array_append_val(pfds, p);
		}

		if (poll((struct pollfd *)pfds->data, pfds->len, timeout) < 0) {
			if (errno == EINTR)
				continue;
			mh_err("ctl: poll: %s", g_strerror(errno));
			break;
		}
		if (g_array_index(pfds, struct pollfd, 0).revents) {
			while (read(wake_pipe[0], drain, sizeof(drain)) > 0)
				;
			deliver_replies();
			if (g_atomic_int_get(&quit))
				break;
		}
		for (guint i = 0; i < nclients; i++) {
			struct client *c = g_ptr_array_index(clients, i);
			short rev = g_array_index(pfds, struct pollfd, i + 2).revents;

			if (rev & POLLOUT)
				client_write(c);
			if (rev & POLLIN)
				client_read(c);
			else if (rev & (POLLHUP | POLLERR | POLLNVAL))
				c->dead = true;
			/* Replies added by this read go out at once. */
			if (c->out->len && !c->dead)
				client_write(c);
		}
		reap_dead();
		if (g_array_index(pfds, struct pollfd, 1).revents & POLLIN)
			accept_clients();
	}
	/* The last replies (requests failed at exit): one try, no waiting. */
	for (guint i = 0; i < clients->len; i++) {
		struct client *c = g_ptr_array_index(clients, i);

		if (c->out->len && !c->dead)
			client_write(c);
	}
	g_ptr_array_unref(clients);
	clients = NULL;
	return NULL;
}

/* -- start and stop --------------------------------------------------- */

/* Does a server answer at @sa?  No: the socket file is stale. */
static int probe(const struct sockaddr_un *sa, bool *alive)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	*alive = !connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (!*alive && errno != ECONNREFUSED)
		ret = -errno;
	close(fd);
	return ret;
}

int mh_control_start(const char *path, char **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	bool alive = false;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*err = g_strdup_printf("ctl=%s: a socket path has at most %zu "
				       "bytes", path, sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (!lstat(path, &st)) {
		/* Never delete what is not ours to delete. */
		if (!S_ISSOCK(st.st_mode)) {
			*err = g_strdup_printf("ctl=%s: exists and is not a "
					       "socket (left as it is)", path);
			return -EEXIST;
		}
		ret = probe(&sa, &alive);
		if (ret || alive) {
			*err = g_strdup_printf("ctl=%s: %s", path, alive ?
					       "another process serves this socket" :
					       g_strerror(-ret));
			return alive ? -EADDRINUSE : ret;
		}
		/* Stale: left by a QEMU that did not exit cleanly. */
		unlink(path);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		goto fail_errno;
	/*
	 * Linux gives the socket file the mode of the socket's inode, less
	 * the umask: set 0600 before bind() so that it never exists with a
	 * looser mode, and again after, whatever the umask was.
	 */
	if (fchmod(fd, 0600) || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail_close;
	if (chmod(path, 0600) || lstat(path, &st) || listen(fd, 16))
		goto fail_unlink;
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK))
		goto fail_unlink;

	listen_fd = fd;
	sock_path = g_strdup(path);
	sock_dev = st.st_dev;
	sock_ino = st.st_ino;
	stopping = false;
	g_atomic_int_set(&quit, 0);
	done_jobs = g_async_queue_new();
	/* One exclusive worker thread: requests apply one at a time. */
	worker = g_thread_pool_new(worker_run, NULL, 1, TRUE, NULL);
	thread = g_thread_new("modhost-ctl", ctl_thread, NULL);
	mh_msg("control socket %s", path);
	return 0;

fail_unlink:
	ret = -errno;
	unlink(path);
	close(fd);
	goto fail;
fail_close:
	ret = -errno;
	close(fd);
	goto fail;
fail_errno:
	ret = -errno;
fail:
	*err = g_strdup_printf("ctl=%s: %s", path, g_strerror(-ret));
	return ret;
}

void mh_control_stop(void)
{
	struct stat st;
	struct job *j;

	if (!thread)
		return;
	/*
	 * No request starts from now on: those queued for the worker are
	 * answered "cancelled", and the one running returns soon, since the
	 * lifecycle has failed what it queued (mh_request_cancel).  The
	 * lock makes sure the control thread pushes nothing to a freed pool.
	 */
	g_mutex_lock(&push_lock);
	stopping = true;
	g_mutex_unlock(&push_lock);
	g_thread_pool_free(worker, FALSE, TRUE);
	worker = NULL;
	/* Every reply is queued: the control thread sends them, and ends. */
	g_atomic_int_set(&quit, 1);
	wake('q');
	g_thread_join(thread);
	thread = NULL;
	while ((j = g_async_queue_try_pop(done_jobs)))
		job_free(j);
	g_async_queue_unref(done_jobs);
	done_jobs = NULL;
	close(listen_fd);
	listen_fd = -1;
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	wake_pipe[0] = wake_pipe[1] = -1;
	/* Remove the socket file, unless another process has replaced it. */
	if (!lstat(sock_path, &st) && st.st_dev == sock_dev &&
	    st.st_ino == sock_ino)
		unlink(sock_path);
	g_clear_pointer(&sock_path, g_free);
}
