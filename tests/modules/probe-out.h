/* SPDX-License-Identifier: MIT */
/*
 * The output file of the Linux tests' probe modules (osi_probe, up_probe,
 * kstpi_probe): each writes what it is told to its "out=" parameter's
 * file, which the test reads after QEMU ends.
 */
#ifndef MODHOST_TESTS_PROBE_OUT_H
#define MODHOST_TESTS_PROBE_OUT_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <modhost/module.h>

/* Open @self's out= file into *@out: 0, or -errno with the reason logged. */
static inline int probe_out_open(mh_module *self, const struct mh_api *api,
				 FILE **out)
{
	const char *path = api->param_str(self, "out");

	if (!path || !*path) {
		api->log(self, MH_LOG_ERROR, "out= is required");
		return -EINVAL;
	}
	*out = fopen(path, "w");
	if (!*out) {
		int ret = -errno;

		api->log(self, MH_LOG_ERROR, "%s: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * Flush *@out; close it too unless QEMU is ending, when a vCPU may still
 * be in one of the probe's handlers.  True if it was closed: the caller
 * may then free what its handlers use.
 */
static inline bool probe_out_close(const struct mh_api *api, FILE **out)
{
	if (*out)
		fflush(*out);
	if (api->exiting())
		return false;
	if (*out)
		fclose(*out);
	*out = NULL;
	return true;
}

#endif /* MODHOST_TESTS_PROBE_OUT_H */
