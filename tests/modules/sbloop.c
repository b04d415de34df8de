// SPDX-License-Identifier: MIT
/*
 * sbloop - allocates and frees scoreboards, for the scoreboard_free test.
 *
 * init makes `n` scoreboards of `kib` KiB per vCPU, one after the other,
 * writing to each (so its pages count in QEMU's RSS) and freeing it with
 * api->scoreboard_free before making the next.  A host that frees them
 * keeps QEMU's memory flat; one that keeps them until the module goes
 * grows by about n * kib KiB per vCPU slot.
 */
#include <errno.h>
#include <string.h>

#include <modhost/module.h>

MH_PARAM_UINT(n, 0, "scoreboards to allocate and free in init");
MH_PARAM_UINT(kib, 64, "size of each scoreboard's element, in KiB");

static int sbloop_init(mh_module *self, const struct mh_api *api)
{
	uint64_t n = api->param_uint(self, "n");
	size_t size = api->param_uint(self, "kib") << 10;

	for (uint64_t i = 0; i < n; i++) {
		mh_scoreboard *s = api->scoreboard_new(self, size);

		if (!s)
			return -ENOMEM;
		memset(api->scoreboard_find(s, 0), 0xa5, size);
		api->scoreboard_free(self, s);
	}
	api->log(self, MH_LOG_INFO, "made and freed %llu scoreboards of %zu "
		 "bytes", (unsigned long long)n, size);
	return 0;
}

MH_MODULE("sbloop", "1", "MIT", "test module: scoreboard allocation",
	  .init = sbloop_init);
