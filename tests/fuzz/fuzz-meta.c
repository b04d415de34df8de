// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the module metadata reader (host/loader.c), the
 * code that reads whatever a dropped file holds before anything else:
 *
 *   first byte even: the rest is a ".modhost" section for mh_meta_parse();
 *   first byte odd:  the rest is a file for mh_meta_read(), which takes it
 *                    apart with libelf, checks the section table and then
 *                    parses the section.
 *
 * Built with -fsanitize=fuzzer,address,undefined (tests/tests.mk); run by
 * tests/fuzz/fuzz.t for a bounded time on tests/fuzz/corpus-meta/.  Besides
 * crashes and sanitizer reports, it aborts when the reader breaks its
 * contract: a refusal always has a message, a success none, and an accepted
 * module has the required entries.  With MH_FUZZ_ONE_LINE=1 it also
 * requires every message to be one line of printable text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

static int memfd = -1;
static char path[64];
static bool one_line;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* A file in memory: mh_meta_read() wants a path, not a buffer. */
	memfd = memfd_create("fuzz-meta", 0);
	if (memfd < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	one_line = getenv("MH_FUZZ_ONE_LINE") != NULL;
	return 0;
}

static void check_message(const char *err)
{
	if (!err || !*err)
		abort();	/* a refusal must say why */
	if (!one_line)
		return;
	for (const unsigned char *p = (const unsigned char *)err; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			abort();	/* the message would not be one line */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mh_meta *m = NULL;
	char *err = NULL;
	int ret;

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		if (ftruncate(memfd, 0) ||
		    pwrite(memfd, data + 1, size - 1, 0) != (ssize_t)(size - 1))
			abort();
		ret = mh_meta_read(path, &m, &err);
	} else {
		ret = mh_meta_parse(data + 1, size - 1, &m, &err);
	}
	if (ret) {
		if (ret > 0 || m)
			abort();
		check_message(err);
		g_free(err);
		return 0;
	}
	if (err || !m || !m->has_abi || !m->name || !m->version ||
	    !mh_valid_module_name(m->name, strlen(m->name)))
		abort();
	for (unsigned int i = 0; i < m->params->len; i++) {
		const struct mh_param_decl *d = g_ptr_array_index(m->params, i);

		if (!d->def || mh_meta_param(m, d->name) != d)
			abort();
	}
	if (mh_meta_check_abi(m, &err)) {
		check_message(err);
		g_free(err);
	}
	mh_meta_free(m);
	return 0;
}
