// SPDX-License-Identifier: MIT
/* dep_base - a module others require (dependency tests). */
#include <modhost/module.h>

static int dep_base_init(mh_module *self, const struct mh_api *api)
{
	api->log(self, MH_LOG_INFO, "up");
	return 0;
}

MH_MODULE("dep_base", "1", "MIT", "test module: required by dep_user",
	  .init = dep_base_init);
