// SPDX-License-Identifier: MIT
/*
 * The module directory watcher.
 *
 * A thread reads inotify events for dir: a "NAME.so" written and closed or
 * moved in is loaded (or reloaded, if live); one deleted or moved out is
 * unloaded.  Events for one file within DEBOUNCE_MS of each other count
 * once, acted on when the file has been quiet that long, so a build that
 * writes its output twice reloads once.  What the file holds is judged at
 * that moment: a half-written or broken file is rejected now and tried
 * again at its next write.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "internal.h"

#define DEBOUNCE_MS 10

static GThread *thread;
static int inotify_fd = -1;
static int stop_pipe[2] = { -1, -1 };
static char *watch_dir;

/* Names whose file changed, and when it last did (g_get_monotonic_time). */
static GHashTable *due;

static void note_event(const struct inotify_event *ev)
{
	size_t len = strlen(ev->name);
	g_autofree char *name = NULL;

	if (len <= 3 || !g_str_has_suffix(ev->name, ".so"))
		return;
	if (!mh_valid_module_name(ev->name, len - 3)) {
		mh_err("%s/%s: ignored, a module file is NAME.so with NAME in "
		       "[A-Za-z0-9_-]{1,%d}", watch_dir, ev->name, MH_NAME_MAX);
		return;
	}
	name = g_strndup(ev->name, len - 3);
	g_hash_table_insert(due, g_steal_pointer(&name),
			    (gpointer)(intptr_t)(g_get_monotonic_time() / 1000));
}

static void act(const char *name)
{
	g_autofree char *file = g_strdup_printf("%s.so", name);
	g_autofree char *path = g_build_filename(watch_dir, file, NULL);

	if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
		mh_request_load(name, MH_FROM_WATCH);
	else if (mh_module_is_loaded(name))
		mh_request_unload(name, false, MH_FROM_WATCH);
}

/* Act on the names quiet for DEBOUNCE_MS; return ms until the next one. */
static int act_due(void)
{
	int64_t now = g_get_monotonic_time() / 1000;
	int wait = -1;
	GHashTableIter it;
	gpointer k, v;
	g_autoptr(GPtrArray) ready = g_ptr_array_new_with_free_func(g_free);

	g_hash_table_iter_init(&it, due);
	while (g_hash_table_iter_next(&it, &k, &v)) {
		int64_t left = (intptr_t)v + DEBOUNCE_MS - now;

		if (left <= 0) {
			g_ptr_array_add(ready, g_strdup(k));
			g_hash_table_iter_remove(&it);
		} else if (wait < 0 || left < wait) {
			wait = left;
		}
	}
	/* Sorted, so that several files dropped at once load in a fixed order. */
	g_ptr_array_sort(ready, (GCompareFunc)g_strcmp0);
	for (guint i = 0; i < ready->len; i++)
		act(g_ptr_array_index(ready, i));
	return wait;
}

static gpointer watcher_thread(gpointer data)
{
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
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
		if (n > 0 && (fds[0].revents & POLLIN)) {
			ssize_t len = read(inotify_fd, buf, sizeof(buf));

			for (char *p = buf; len > 0 && p < buf + len;) {
				struct inotify_event *ev = (struct inotify_event *)p;

				if (ev->len)
					note_event(ev);
				p += sizeof(*ev) + ev->len;
			}
		}
		wait = act_due();
	}
	return NULL;
}

int mh_watcher_start(const char *dir, char **err)
{
	inotify_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (inotify_fd < 0 ||
	    inotify_add_watch(inotify_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO |
			      IN_DELETE | IN_MOVED_FROM | IN_ONLYDIR) < 0 ||
	    pipe2(stop_pipe, O_CLOEXEC) < 0) {
		*err = g_strdup_printf("dir=%s: cannot watch: %s", dir,
				       g_strerror(errno));
		return -errno;
	}
	watch_dir = g_strdup(dir);
	due = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	thread = g_thread_new("modhost-watch", watcher_thread, NULL);
	return 0;
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
	g_hash_table_unref(due);
	g_free(watch_dir);
}
