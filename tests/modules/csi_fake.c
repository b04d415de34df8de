// SPDX-License-Identifier: MIT
/*
 * csi_fake - a stand-in "callstack_instr" whose only job is to hand its
 * successor a chosen state: save_state writes the bytes CSI_FAKE_STATE
 * (tests/tests.mk builds one variant per state).
 * tests/integration/callstack-state.t reloads the real callstack_instr
 * over it to see how a state in another format is met.  It takes back
 * whatever it saved (a refused reload rolls back to it).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>

static const struct mh_api *mh;

static int fake_init(mh_module *self, const struct mh_api *api)
{
	(void)self;
	mh = api;
	return 0;
}

static int fake_save(mh_module *self, void **data, size_t *len)
{
	(void)self;
	*len = sizeof(CSI_FAKE_STATE) - 1;
	*data = malloc(*len);
	if (!*data)
		return -ENOMEM;
	memcpy(*data, CSI_FAKE_STATE, *len);
	return 0;
}

static int fake_restore(mh_module *self, const void *data, size_t len,
			const char *old_version)
{
	(void)data;
	(void)len;
	mh->log(self, MH_LOG_INFO, "fake: took back the state of %s",
		old_version);
	return 0;
}

MH_MODULE("callstack_instr", "0-fake", "MIT",
	  "test module: a callstack_instr that hands over a chosen state",
	  .init = fake_init,
	  .save_state = fake_save,
	  .restore_state = fake_restore);
