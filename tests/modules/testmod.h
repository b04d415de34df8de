/* SPDX-License-Identifier: MIT */
/*
 * What the test modules share: the marker that proves whether any of a
 * module's code ran, and the heartbeat file a test reads from outside to
 * see a module's callbacks run.  libc only, so that modules built against
 * an old or installed SDK can use it too.
 */
#ifndef MODHOST_TESTS_TESTMOD_H
#define MODHOST_TESTS_TESTMOD_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TESTMOD_BEAT_SIZE 4096

/* Append @line to $MODHOST_TEST_MARKER, if the test set it. */
static inline void testmod_mark(const char *line)
{
	const char *marker = getenv("MODHOST_TEST_MARKER");
	int fd = marker ? open(marker, O_WRONLY | O_CREAT | O_APPEND, 0644) : -1;

	if (fd < 0)
		return;
	if (write(fd, line, strlen(line)) < 0)
		abort();
	close(fd);
}

/* Map the counter in the first 8 bytes of @path; 0 or -errno. */
static inline int testmod_beat_map(const char *path, uint64_t **beat)
{
	int fd = open(path, O_RDWR | O_CREAT, 0644);
	void *p;

	if (fd < 0 || ftruncate(fd, TESTMOD_BEAT_SIZE) < 0) {
		int ret = -errno;

		if (fd >= 0)
			close(fd);
		return ret;
	}
	p = mmap(NULL, TESTMOD_BEAT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -ENOMEM;
	*beat = p;
	return 0;
}

static inline void testmod_beat_unmap(uint64_t **beat)
{
	if (*beat)
		munmap(*beat, TESTMOD_BEAT_SIZE);
	*beat = NULL;
}

/* One more executed block. */
static inline void testmod_beat(uint64_t *beat)
{
	if (beat)
		__atomic_add_fetch(beat, 1, __ATOMIC_RELAXED);
}

#endif /* MODHOST_TESTS_TESTMOD_H */
