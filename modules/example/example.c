// SPDX-License-Identifier: MIT
/*
 * example - count executed guest blocks, and keep counting across reloads.
 *
 * The smallest useful module: a translate hook adds one inline counter
 * increment to every block (no call on the hot path), and the count is
 * handed from each version to the next through save_state/restore_state.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>

MH_PARAM_BOOL(insns, false, "count executed instructions instead of blocks");

static const struct mh_api *mh;
static mh_scoreboard *score;
static uint64_t earlier;	/* counted by the versions before this one */
static bool per_insn;

static mh_u64 counter(void)
{
	return (mh_u64){ score, 0 };
}

static uint64_t total(void)
{
	return earlier + mh->u64_sum(counter());
}

static void translate(mh_tb *tb, void *opaque)
{
	(void)opaque;
	if (!per_insn) {
		mh->tb_exec_inline(tb, MH_INLINE_ADD_U64, counter(), 1);
		return;
	}
	for (size_t i = 0; i < mh->tb_n_insns(tb); i++)
		mh->insn_exec_inline(mh->tb_insn(tb, i), MH_INLINE_ADD_U64,
				     counter(), 1);
}

static int example_init(mh_module *self, const struct mh_api *api)
{
	mh = api;
	earlier = 0;
	per_insn = api->param_bool(self, "insns");
	score = api->scoreboard_new(self, sizeof(uint64_t));
	if (!score)
		return -ENOMEM;
	api->log(self, MH_LOG_INFO, "counting executed %s",
		 per_insn ? "instructions" : "blocks");
	return api->set_translate(self, translate, NULL);
}

static void example_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO, "count=%" PRIu64, total());
}

static int example_save(mh_module *self, void **data, size_t *len)
{
	uint64_t *n = malloc(sizeof(*n));

	(void)self;
	if (!n)
		return -ENOMEM;
	*n = total();
	*data = n;
	*len = sizeof(*n);
	return 0;
}

static int example_restore(mh_module *self, const void *data, size_t len,
			   const char *old_version)
{
	if (len != sizeof(earlier))
		return -EINVAL;
	memcpy(&earlier, data, len);
	mh->log(self, MH_LOG_INFO, "restored count=%" PRIu64 " from version %s",
		earlier, old_version);
	return 0;
}

MH_MODULE("example", "1.0", "MIT",
	  "Counts executed guest blocks; the count survives reloads",
	  .init = example_init,
	  .exit = example_exit,
	  .save_state = example_save,
	  .restore_state = example_restore);
