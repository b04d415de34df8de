/* SPDX-License-Identifier: MIT */
/*
 * State handoff for the test modules: their state is a fixed-size block
 * of counters, copied out by save_state and back in by restore_state.
 */
#ifndef MODHOST_TESTS_BLOB_H
#define MODHOST_TESTS_BLOB_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static inline int blob_save(const void *state, size_t size, void **data,
			    size_t *len)
{
	*data = malloc(size);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, state, size);
	*len = size;
	return 0;
}

/* A blob of another size is another module's: refuse it. */
static inline int blob_restore(void *state, size_t size, const void *data,
			       size_t len)
{
	if (len != size)
		return -EINVAL;
	memcpy(state, data, len);
	return 0;
}

#endif /* MODHOST_TESTS_BLOB_H */
