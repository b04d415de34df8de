// SPDX-License-Identifier: MIT
/*
 * reload-latency: how long a hot reload takes, as seen from outside.
 *
 *   reload-latency [-n NAME] [-g GAP_MS] [-t TIMEOUT_S]
 *                  DIR FIRST.so SECOND.so LOG N
 *
 * modhost must be running with dir=DIR and log=LOG, with the module that
 * FIRST.so and SECOND.so both hold already loaded: NAME, by default the
 * file name of FIRST.so up to its first '-' or '.' (counter-v2.so gives
 * counter).  N times, alternately FIRST then SECOND: write a copy to
 * DIR/NAME.so.tmp (ignored by the watcher), take CLOCK_MONOTONIC, rename
 * it to DIR/NAME.so, follow LOG (inotify, with a periodic re-read as a
 * safety net) until a line with "event":"reload" shows, take the time
 * again and print the difference in microseconds, one line per reload.
 *
 * A "rollback" or "reject" line instead counts as a failure (reported on
 * stderr, no latency printed).  After a successful reload it waits for the
 * "quiesce" event that ends it, then GAP_MS more (default 0), so that each
 * reload meets a guest running normally again.
 *
 * Exit status: 0 all reloads succeeded, 1 some failed, 2 usage or system
 * error, 3 timed out waiting for the log (TIMEOUT_S, default 10).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EV_RELOAD	"\"event\":\"reload\""
#define EV_ROLLBACK	"\"event\":\"rollback\""
#define EV_REJECT	"\"event\":\"reject\""
#define EV_QUIESCE	"\"event\":\"quiesce\""

enum outcome { OUT_NONE, OUT_RELOAD, OUT_FAIL, OUT_QUIESCE };

static const char *prog = "reload-latency";

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void die(const char *what, const char *arg)
{
	fprintf(stderr, "%s: %s%s%s: %s\n", prog, what, arg ? " " : "",
		arg ? arg : "", strerror(errno));
	exit(2);
}

/* The whole of @path, in memory. */
static char *slurp(const char *path, size_t *len)
{
	struct stat st;
	char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		die("cannot read", path);
	buf = malloc(st.st_size ? st.st_size : 1);
	if (!buf)
		die("out of memory", NULL);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("cannot read", path);
		got += n;
	}
	close(fd);
	*len = got;
	return buf;
}

static void write_file(const char *path, const char *buf, size_t len)
{
	size_t done = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);

	if (fd < 0)
		die("cannot create", path);
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("cannot write", path);
		done += n;
	}
	if (close(fd) < 0)
		die("cannot write", path);
}

/* Follows the event log from where it ended when opened. */
struct follower {
	int fd;
	int ino;
	char buf[65536];	/* read, not yet looked at: buf[pos..end) */
	size_t pos, end;
	char line[65536];	/* the line being assembled */
	size_t have;
};

static void follow_open(struct follower *f, const char *path)
{
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f->fd < 0)
		die("cannot open", path);
	if (lseek(f->fd, 0, SEEK_END) < 0)
		die("cannot seek", path);
	f->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (f->ino < 0 || inotify_add_watch(f->ino, path, IN_MODIFY) < 0)
		die("cannot watch", path);
	f->pos = f->end = f->have = 0;
}

static enum outcome classify(const char *line)
{
	if (strstr(line, EV_RELOAD))
		return OUT_RELOAD;
	if (strstr(line, EV_ROLLBACK) || strstr(line, EV_REJECT))
		return OUT_FAIL;
	if (strstr(line, EV_QUIESCE))
		return OUT_QUIESCE;
	return OUT_NONE;
}

/*
 * Look at what is new in the log until a complete line classifies as
 * @want, or as a failure when @want is OUT_RELOAD (*failed is then that
 * line); return that, or OUT_NONE when the log has nothing more yet.
 * What follows the line found stays buffered for the next call.
 */
static enum outcome follow_scan(struct follower *f, enum outcome want,
				char **failed)
{
	for (;;) {
		if (f->pos == f->end) {
			ssize_t n = read(f->fd, f->buf, sizeof(f->buf));

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("cannot read the log", NULL);
			if (n == 0)
				return OUT_NONE;
			f->pos = 0;
			f->end = n;
		}

		char c = f->buf[f->pos++];

		if (c != '\n') {
			if (f->have < sizeof(f->line) - 1)
				f->line[f->have++] = c;
			continue;
		}
		f->line[f->have] = 0;
		f->have = 0;

		enum outcome o = classify(f->line);

		if (o == want)
			return o;
		if (o == OUT_FAIL && want == OUT_RELOAD) {
			*failed = strdup(f->line);
			return o;
		}
	}
}

/* Wait up to @timeout_ns for @want (or a failure, for OUT_RELOAD). */
static enum outcome follow_wait(struct follower *f, enum outcome want,
				int64_t timeout_ns, char **failed)
{
	int64_t deadline = now_ns() + timeout_ns;
	char evbuf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	for (;;) {
		enum outcome o = follow_scan(f, want, failed);
		struct pollfd p = { .fd = f->ino, .events = POLLIN };
		int64_t left = deadline - now_ns();

		if (o != OUT_NONE)
			return o;
		if (left <= 0)
			return OUT_NONE;
		/* inotify wakes us at once; re-read every 20 ms regardless. */
		if (poll(&p, 1, left > 20000000 ? 20 : (int)(left / 1000000) + 1) < 0 &&
		    errno != EINTR)
			die("poll", NULL);
		while (read(f->ino, evbuf, sizeof(evbuf)) > 0)
			;
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: %s [-n NAME] [-g GAP_MS] [-t TIMEOUT_S] "
		"DIR FIRST.so SECOND.so LOG N\n", prog);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *dir, *log, *modname = NULL;
	char *image[2], name[256], dst[4096], tmp[4096];
	size_t len[2];
	long n, gap_ms = 0, timeout_s = 10, fails = 0;
	struct follower f;
	const char *base;
	int opt;

	while ((opt = getopt(argc, argv, "n:g:t:")) != -1) {
		switch (opt) {
		case 'n':
			modname = optarg;
			break;
		case 'g':
			gap_ms = strtol(optarg, NULL, 10);
			break;
		case 't':
			timeout_s = strtol(optarg, NULL, 10);
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 5)
		usage();
	dir = argv[optind];
	log = argv[optind + 3];
	n = strtol(argv[optind + 4], NULL, 10);
	if (n <= 0 || gap_ms < 0 || timeout_s <= 0)
		usage();

	if (modname) {
		snprintf(name, sizeof(name), "%s", modname);
	} else {	/* counter-v1.so -> counter */
		base = strrchr(argv[optind + 1], '/');
		base = base ? base + 1 : argv[optind + 1];
		snprintf(name, sizeof(name), "%.*s",
			 (int)strcspn(base, "-."), base);
	}
	if (!name[0])
		usage();
	snprintf(dst, sizeof(dst), "%s/%s.so", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/%s.so.tmp", dir, name);

	image[0] = slurp(argv[optind + 1], &len[0]);
	image[1] = slurp(argv[optind + 2], &len[1]);
	follow_open(&f, log);
	setvbuf(stdout, NULL, _IOLBF, 0);

	for (long i = 0; i < n; i++) {
		int64_t t0, t1, tmo = (int64_t)timeout_s * 1000000000;
		char *failed = NULL;
		enum outcome o;

		write_file(tmp, image[i % 2], len[i % 2]);
		t0 = now_ns();
		if (rename(tmp, dst) < 0)
			die("cannot rename to", dst);
		o = follow_wait(&f, OUT_RELOAD, tmo, &failed);
		t1 = now_ns();
		if (o == OUT_NONE) {
			fprintf(stderr, "%s: reload %ld: no reload event in %s "
				"after %ld s\n", prog, i + 1, log, timeout_s);
			return 3;
		}
		if (o == OUT_FAIL) {
			fprintf(stderr, "%s: reload %ld failed: %s\n", prog,
				i + 1, failed);
			free(failed);
			fails++;
			continue;
		}
		printf("%lld\n", (long long)((t1 - t0 + 500) / 1000));
		if (follow_wait(&f, OUT_QUIESCE, tmo, &failed) != OUT_QUIESCE) {
			fprintf(stderr, "%s: reload %ld: no quiesce event in "
				"%s after %ld s\n", prog, i + 1, log, timeout_s);
			return 3;
		}
		if (gap_ms)
			nanosleep(&(struct timespec){ gap_ms / 1000,
						      gap_ms % 1000 * 1000000 },
				  NULL);
	}
	if (fails)
		fprintf(stderr, "%s: %ld of %ld reloads failed\n", prog, fails, n);
	return fails ? 1 : 0;
}
