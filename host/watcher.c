// SPDX-License-Identifier: MIT
/*
 * The module directory watcher.
 *
 * A thread reads inotify events for dir and acts on a "NAME.so" only once
 * it is whole:
 *  - written and closed (IN_CLOSE_WRITE) or renamed in (IN_MOVED_TO): load
 *    it, or reload it if live, at once.  A writer in the middle of its work
 *    (GNU ld creates its output, writes it in pieces, the ELF header last)
 *    has not closed it yet, so nothing reads a half-written file.
 *  - created as something no writer will close (a symbolic link, a FIFO, a
 *    directory): judged at once, so a broken one is a reject with the
 *    reason while the live version keeps running.
 *  - deleted or moved out: unloaded once the name has stayed missing for
 *    QUIET_MS.  A re-create within that time (ld unlinks its output before
 *    writing it again) makes delete and re-create one change: a reload when
 *    the new file is closed, never an unload followed by a load.
 *  - created as a hard link (a regular file with another name already):
 *    whole, as no writer made it: at once.
 * Only a missing file unloads; anything present but unusable is rejected by
 * the loader with the reason.  A module refused because a module it
 * requires has no file yet is tried again when that one loads.  When the
 * kernel's event queue overflows (a build writing thousands of files while
 * a load holds this thread), events are lost: the whole directory is then
 * judged again against the files the live modules were read from.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define QUIET_MS 100

static GThread *thread;
static int inotify_fd = -1;
static int stop_pipe[2] = { -1, -1 };
static char *watch_dir;

/* Names deleted or moved out, and when they may unload (ms, monotonic). */
static GHashTable *gone;
/* Names refused for a required module's missing file -> what they require. */
static GHashTable *waiting;

/* What the lifecycle loads @name from: NAME.so, else NAME.py. */
static char *name_path(const char *name)
{
	return mh_lifecycle_path(name);
}

/*
 * What the name holds now: 1 a regular file, 0 anything else present
 * (the loader says what is wrong with it), -ENOENT nothing.  Its stat in
 * *@st if @st is given and something is there.
 */
static int name_stat(const char *name, struct stat *st)
{
	g_autofree char *path = name_path(name);
	struct stat own;

	if (!st)
		st = &own;
	if (lstat(path, st))
		return errno == ENOENT ? -ENOENT : 0;
	return S_ISREG(st->st_mode);
}

static int name_kind(const char *name)
{
	return name_stat(name, NULL);
}

/*
 * The module name of file @file, or NULL; @say: say why a file that looks
 * like a module's is ignored.
 */
static char *file_name(const char *file, bool say)
{
	size_t len = strlen(file);

	if (len <= 3 || (!g_str_has_suffix(file, ".so") &&
			 !g_str_has_suffix(file, MH_SCRIPT_SUFFIX)))
		return NULL;
	if (!mh_valid_module_name(file, len - 3)) {
		if (say)
			mh_err("%s/%s: ignored, a module file is NAME.so or "
			       "NAME.py with NAME in [A-Za-z0-9_-]{1,%d}",
			       watch_dir, file, MH_NAME_MAX);
		return NULL;
	}
	return g_strndup(file, len - 3);
}

/* The module name of a "NAME.so" or "NAME.py" event, or NULL. */
static char *event_name(const struct inotify_event *ev)
{
	/* Said once per file: at the event that would act on it. */
	return file_name(ev->name, !(ev->mask & IN_CREATE));
}

/* Note what one event asks for: @act (names to load now) or gone. */
static void note_event(const struct inotify_event *ev, GHashTable *act)
{
	g_autofree char *name = event_name(ev);
	int64_t now = g_get_monotonic_time() / 1000;
	struct stat st;

	if (!name)
		return;
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
		g_hash_table_remove(act, name);
		g_hash_table_insert(gone, g_strdup(name),
				    (gpointer)(intptr_t)(now + QUIET_MS));
		return;
	}
	/*
	 * A regular file just created is still being written: wait for its
	 * close; unless it is a hard link to a file written already (it has
	 * other names).
	 */
	if ((ev->mask & IN_CREATE) && name_stat(name, &st) == 1 && st.st_nlink <= 1) {
		g_hash_table_remove(gone, name);
		return;
	}
	g_hash_table_remove(gone, name);
	g_hash_table_add(act, g_steal_pointer(&name));
}

static void act_present(const char *name);

/*
 * @name was refused for a missing file of a module it requires (two files
 * dropped at once arrive as two events, the user's maybe first): remember
 * what it requires, to try it again when one of those loads.
 */
static void wait_for_requires(const char *name)
{
	g_autofree char *path = name_path(name);
	g_autofree char *err = NULL;
	struct mh_meta *m;
	GPtrArray *req, *names;

	if (mh_meta_read(path, &m, &err))
		return;
	req = mh_meta_requires(m);
	names = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < req->len; i++)
		g_ptr_array_add(names, g_strdup(g_ptr_array_index(req, i)));
	g_ptr_array_unref(req);
	mh_meta_free(m);
	g_hash_table_insert(waiting, g_strdup(name), names);
}

/* @loaded is live now: try again the names that were waiting for it. */
static void retry_waiting(const char *loaded)
{
	g_autoptr(GPtrArray) retry = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter it;
	gpointer k, v;

	g_hash_table_iter_init(&it, waiting);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (g_ptr_array_find_with_equal_func(v, loaded, g_str_equal, NULL))
			g_ptr_array_add(retry, g_strdup(k));
	}
	for (guint i = 0; i < retry->len; i++)
		act_present(g_ptr_array_index(retry, i));
}

/* Load or reload @name, unless it went again since the event. */
static void act_present(const char *name)
{
	int ret;

	g_hash_table_remove(waiting, name);
	if (name_kind(name) == -ENOENT)
		return;
	ret = mh_request_load(name, MH_FROM_WATCH);
	if (ret == -ENOENT)
		wait_for_requires(name);
	else if (!ret)
		retry_waiting(name);
}

/* Act on the names quiet for QUIET_MS; return ms until the next one. */
static int act_gone(void)
{
	int64_t now = g_get_monotonic_time() / 1000;
	int wait = -1;
	GHashTableIter it;
	gpointer k, v;
	g_autoptr(GPtrArray) ready = g_ptr_array_new_with_free_func(g_free);

	g_hash_table_iter_init(&it, gone);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		int64_t left = (intptr_t)v - now;

		if (left <= 0) {
			g_ptr_array_add(ready, g_strdup(k));
			g_hash_table_iter_remove(&it);
		} else if (wait < 0 || left < wait) {
			wait = left;
		}
	}
	for (guint i = 0; i < ready->len; i++) {
		const char *name = g_ptr_array_index(ready, i);

		/* Back without an event we act on (a hard link): leave it be. */
		if (name_kind(name) == -ENOENT && mh_lifecycle_is_loaded(name))
			mh_request_unload(name, false, MH_FROM_WATCH);
	}
	return wait;
}

/* g_ptr_array_sort() hands the comparison pointers to the elements. */
static gint name_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The live modules' names -> the files they were read from (struct stat). */
static void note_live(const struct mh_entry *e, GPtrArray *users, void *opaque)
{
	(void)users;
	if (e->live)
		g_hash_table_insert(opaque, g_strdup(e->name),
				    g_memdup2(&e->live->file_st,
					      sizeof(e->live->file_st)));
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/*
 * Events were lost: judge every name again, as the events would have.  A
 * module file the live version was not read from loads or reloads (@act);
 * a live module whose file is missing is gone.
 */
static void rescan(GHashTable *act)
{
	g_autoptr(GHashTable) live = g_hash_table_new_full(g_str_hash,
							   g_str_equal,
							   g_free, g_free);
	g_autoptr(GError) error = NULL;
	int64_t now = g_get_monotonic_time() / 1000;
	GHashTableIter it;
	const char *file;
	gpointer k, v;
	GDir *dir;

	mh_err("%s: too many changes at once (the kernel's event queue "
	       "overflowed): looking at every module file again", watch_dir);
	mh_lifecycle_foreach(true, note_live, live);
	dir = g_dir_open(watch_dir, 0, &error);
	if (!dir) {
		mh_err("%s: %s", watch_dir, error->message);
		return;
	}
	while ((file = g_dir_read_name(dir))) {
		g_autofree char *name = file_name(file, false);
		g_autofree char *path = NULL;
		const struct stat *was;
		struct stat st;

		if (!name)
			continue;
		path = name_path(name);
		was = g_hash_table_lookup(live, name);
		if (was && !stat(path, &st) && same_file(&st, was))
			continue;
		g_hash_table_remove(gone, name);
		g_hash_table_add(act, g_steal_pointer(&name));
	}
	g_dir_close(dir);
	g_hash_table_iter_init(&it, live);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		if (name_kind(k) == -ENOENT)
			g_hash_table_insert(gone, g_strdup(k),
					    (gpointer)(intptr_t)(now + QUIET_MS));
	}
}

/* Read one batch of events and act on the names it makes whole. */
static void read_events(void)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	g_autoptr(GHashTable) act = g_hash_table_new_full(g_str_hash, g_str_equal,
							  g_free, NULL);
	g_autoptr(GPtrArray) names = NULL;
	GHashTableIter it;
	gpointer k;
	bool overflow = false;
	ssize_t len = read(inotify_fd, buf, sizeof(buf));

	for (char *p = buf; len > 0 && p < buf + len;) {
		struct inotify_event *ev = (struct inotify_event *)p;

		if (ev->mask & IN_Q_OVERFLOW)
			overflow = true;
		else if (ev->len)
			note_event(ev, act);
		p += sizeof(*ev) + ev->len;
	}
	if (overflow)
		rescan(act);
	/* Sorted, so that several files dropped at once load in a fixed order. */
	names = g_ptr_array_new_with_free_func(g_free);
	g_hash_table_iter_init(&it, act);
	while (g_hash_table_iter_next(&it, &k, NULL))
		g_ptr_array_add(names, g_strdup(k));
	g_ptr_array_sort(names, name_cmp);
	for (guint i = 0; i < names->len; i++)
		act_present(g_ptr_array_index(names, i));
}

static gpointer watcher_thread(gpointer data)
{
	struct pollfd fds[2] = {
		{ .fd = inotify_fd, .events = POLLIN },
		{ .fd = stop_pipe[0], .events = POLLIN },
	};
	int wait = -1;

	(void)data;
	for (;;) {
		int n = poll(fds, 2, wait);

		if (n < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (n > 0 && (fds[0].revents & POLLIN))
			read_events();
		wait = act_gone();
	}
	return NULL;
}

int mh_watcher_start(const char *dir, char **err)
{
	int ret;

	/* errno is saved at each failure, before anything can change it. */
	inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (inotify_fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (inotify_add_watch(inotify_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
			      IN_CREATE | IN_DELETE | IN_MOVED_FROM |
			      IN_ONLYDIR) < 0) {
		ret = -errno;
		goto fail_inotify;
	}
	if (pipe2(stop_pipe, O_CLOEXEC) < 0) {
		ret = -errno;
		goto fail_inotify;
	}
	watch_dir = g_strdup(dir);
	gone = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	waiting = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					(GDestroyNotify)g_ptr_array_unref);
	thread = g_thread_new("modhost-watch", watcher_thread, NULL);
	return 0;

fail_inotify:
	close(inotify_fd);
	inotify_fd = -1;
fail:
	*err = g_strdup_printf("dir=%s: cannot watch: %s", dir, g_strerror(-ret));
	return ret;
}

void mh_watcher_stop(void)
{
	if (!thread)
		return;
	if (write(stop_pipe[1], "", 1) < 0)
		mh_err("watcher: cannot stop: %s", g_strerror(errno));
	g_thread_join(thread);
	thread = NULL;
	close(inotify_fd);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	inotify_fd = stop_pipe[0] = stop_pipe[1] = -1;
	g_hash_table_unref(gone);
	g_hash_table_unref(waiting);
	g_free(watch_dir);
}
