// SPDX-License-Identifier: MIT
/* dep_user - requires dep_base (dependency tests). */
#include <modhost/module.h>

MH_REQUIRES("dep_base");

static int dep_user_init(mh_module *self, const struct mh_api *api)
{
	api->log(self, MH_LOG_INFO, "up");
	return 0;
}

MH_MODULE("dep_user", "1", "MIT", "test module: requires dep_base",
	  .init = dep_user_init);
