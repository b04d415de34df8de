// SPDX-License-Identifier: MIT
/*
 * kstpi_probe - a stpi client for tests/linux/kstpi.t: what stpi says about
 * the kernel's own code on a Linux boot.  Writes to out=FILE, once per
 * distinct pc in the kernel's half of the address space:
 *
 *   line PC FILE LINE			on_before_line_change
 *   info PC FUNCTION FILE LINE LOWPC	stpi_get_pc_source_info() at that pc
 *   fn PC FUNCTION FILE LINE		on_fn_start
 *
 * and at exit "count line N" and "count fn N": every kernel event seen.
 * A boot runs the same kernel lines millions of times: writing each
 * distinct one once keeps the file small, and the test samples it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <modhost/module.h>
#include <modhost/stpi.h>

#include "probe-out.h"

#define KERNEL_MIN 0xffff800000000000ull

MH_PARAM_STR(out, "", "the file to write to (required)");

static stpi_get_pc_source_info_t stpi_get_pc_source_info;
MH_IMPORT(STPI_MODULE, stpi_get_pc_source_info, STPI_GET_PC_SOURCE_INFO_SIG);

static const struct mh_api *mh;
static FILE *outf;
static GMutex lock;		/* all below: both vCPUs raise events */
static GHashTable *seen_line, *seen_fn;	/* pcs written */
static uint64_t n_line, n_fn;

/* Has @pc been seen in @set?  Adds it.  Under lock. */
static bool seen_before(GHashTable *set, uint64_t pc)
{
	return !g_hash_table_add(set, g_memdup2(&pc, sizeof(pc)));
}

static void on_line(mh_cpu *cpu, uint64_t pc, const char *file,
		    const char *fn, unsigned long long lno)
{
	PC_Info info = { 0 };

	(void)fn;
	if (pc < KERNEL_MIN)
		return;
	g_mutex_lock(&lock);
	n_line++;
	if (!outf || seen_before(seen_line, pc))
		goto out;
	fprintf(outf, "line %" PRIx64 " %s %llu\n", pc, file, lno);
	if (!stpi_get_pc_source_info(cpu, pc, &info))
		fprintf(outf, "info %" PRIx64 " %s %s %llu %" PRIx64 "\n", pc,
			info.funct_name, info.file_name,
			(unsigned long long)info.line_number, info.funct_lowpc);
	else
		fprintf(outf, "info %" PRIx64 " ? ? 0 0\n", pc);
out:
	g_mutex_unlock(&lock);
}

static void on_fn(mh_cpu *cpu, uint64_t pc, const char *file,
		  const char *fn, unsigned long long lno)
{
	(void)cpu;
	if (pc < KERNEL_MIN)
		return;
	g_mutex_lock(&lock);
	n_fn++;
	if (outf && !seen_before(seen_fn, pc))
		fprintf(outf, "fn %" PRIx64 " %s %s %llu\n", pc, fn, file, lno);
	g_mutex_unlock(&lock);
}

static int probe_init(mh_module *self, const struct mh_api *api)
{
	int rc;

	mh = api;
	rc = probe_out_open(self, api, &outf);
	if (rc)
		return rc;
	seen_line = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	seen_fn = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
	rc = api->ppp_register(self, STPI_MODULE, "on_before_line_change",
			       STPI_ON_BEFORE_LINE_CHANGE_SIG, (void (*)(void))on_line);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_fn_start",
				       STPI_ON_FN_START_SIG, (void (*)(void))on_fn);
	return rc;
}

static void probe_exit(mh_module *self)
{
	(void)self;
	g_mutex_lock(&lock);
	if (outf)
		fprintf(outf, "count line %" PRIu64 "\ncount fn %" PRIu64 "\n",
			n_line, n_fn);
	if (probe_out_close(mh, &outf)) {
		g_hash_table_destroy(seen_line);
		g_hash_table_destroy(seen_fn);
	}
	g_mutex_unlock(&lock);
}

MH_MODULE("kstpi_probe", "1", "MIT",
	  "Writes stpi's answers about the kernel's code, once per distinct pc",
	  .init = probe_init,
	  .exit = probe_exit);
