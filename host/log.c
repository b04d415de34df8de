// SPDX-License-Identifier: MIT
/*
 * Messages and the JSON-lines event log.
 *
 * Human lines go to QEMU's plugin output (qemu_plugin_outs, shown with
 * "-d plugin"); while the host is starting, errors also go to stderr so
 * that a refused start says why without -d.  Events go to log=FILE, one
 * JSON object a line (built with json.c, so valid UTF-8 whatever a module,
 * a file or the guest put in it), flushed at once so that tools can follow
 * the file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static FILE *log_file;
static GMutex log_lock;
static int64_t log_t0;
static bool log_starting = true;

int64_t mh_log_now_us(void)
{
	if (!log_t0)
		log_t0 = g_get_monotonic_time();
	return g_get_monotonic_time() - log_t0;
}

int mh_log_open(const char *path, char **err)
{
	mh_log_now_us();
	if (!path)
		return 0;
	log_file = fopen(path, "ae");
	if (!log_file) {
		int ret = -errno;	/* g_strdup_printf() may change errno */

		*err = g_strdup_printf("log=%s: %s", path, g_strerror(-ret));
		return ret;
	}
	return 0;
}

void mh_log_close(void)
{
	g_mutex_lock(&log_lock);
	if (log_file)
		fclose(log_file);
	log_file = NULL;
	g_mutex_unlock(&log_lock);
}

void mh_log_starting(bool starting)
{
	log_starting = starting;
}

static void msg_out(bool error, const char *fmt, va_list ap)
{
	g_autofree char *body = g_strdup_vprintf(fmt, ap);
	g_autofree char *line = g_strdup_printf("modhost: %s\n", body);

	qemu_plugin_outs(line);
	if (error && log_starting)
		fputs(line, stderr);
}

void mh_msg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_out(false, fmt, ap);
	va_end(ap);
}

void mh_err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	msg_out(true, fmt, ap);
	va_end(ap);
}

GString *mh_event_new(const char *event)
{
	GString *ev = g_string_sized_new(128);

	mh_json_obj_begin(ev);
	mh_json_kv_int(ev, "ts", mh_log_now_us());
	mh_json_kv_str(ev, "event", event);
	return ev;
}

void mh_event_str(GString *ev, const char *key, const char *val)
{
	if (val)
		mh_json_kv_str(ev, key, val);
}

void mh_event_strn(GString *ev, const char *key, const char *val, size_t len)
{
	mh_json_key(ev, key);
	mh_json_strn(ev, val, len);
}

void mh_event_int(GString *ev, const char *key, int64_t val)
{
	mh_json_kv_int(ev, key, val);
}

void mh_event_bool(GString *ev, const char *key, bool val)
{
	mh_json_kv_bool(ev, key, val);
}

void mh_event_emit(GString *ev)
{
	mh_json_obj_end(ev);
	g_string_append_c(ev, '\n');
	g_mutex_lock(&log_lock);
	if (log_file) {
		fputs(ev->str, log_file);
		fflush(log_file);
	}
	g_mutex_unlock(&log_lock);
	g_string_free(ev, TRUE);
}

char *mh_join_unique(GPtrArray *names)
{
	GString *out = g_string_new(NULL);

	for (guint i = 0; i < names->len; i++) {
		const char *n = g_ptr_array_index(names, i);
		bool seen = false;

		for (guint j = 0; j < i && !seen; j++)
			seen = !strcmp(g_ptr_array_index(names, j), n);
		if (!seen)
			g_string_append_printf(out, "%s%s", out->len ? ", " : "", n);
	}
	return g_string_free(out, FALSE);
}
