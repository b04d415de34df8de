// SPDX-License-Identifier: MIT
/*
 * up_probe - a stpi client for tests/linux/userprog.t.  Writes to out=FILE,
 * one line each, what stpi says about tests/linux/upprog.c's processes:
 *
 *   hello ASID PID LEVEL BASE	the program's hypercall 0x75500001
 *   line ASID PC FILE LINE	on_before_line_change
 *   info ASID PC FUNCTION FILE LINE	stpi_get_pc_source_info() at that pc
 *   fn ASID PC FUNCTION FILE LINE	on_fn_start
 *   var PID K NAME VALUE	every live variable, read as 64 bits from
 *				where stpi says it lives, at the first line
 *				of up_step() that starts in that address
 *				space after the hypercall 0x75500002 (pid,
 *				k) (the printf that shows them: at -O0 the
 *				hypercall itself is in guest.h's functions)
 *
 * ASID is cr3 without its low 12 bits; the test joins it with hello's
 * base to check pc - base against addr2line.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include <modhost/module.h>
#include <modhost/stpi.h>

#include "probe-out.h"

#define UP_HELLO 0x75500001u
#define UP_VAR 0x75500002u

MH_PARAM_STR(out, "", "the file to write to (required)");

static stpi_livevar_iter_t stpi_all_livevar_iter;
static stpi_get_pc_source_info_t stpi_get_pc_source_info;
MH_IMPORT(STPI_MODULE, stpi_get_pc_source_info, STPI_GET_PC_SOURCE_INFO_SIG);
MH_IMPORT(STPI_MODULE, stpi_all_livevar_iter, STPI_LIVEVAR_ITER_SIG);

static const struct mh_api *mh;
static FILE *outf;
static GMutex lock;		/* outf: both vCPUs write */
static mh_reg *reg_cr3;
/* The hypercall being answered, for dump_var (under lock). */
static uint64_t var_pid, var_k;
/* asid -> the hypercall's pid and k, until up_step's next line (under lock). */
static GHashTable *armed;

struct arm {
	uint64_t pid, k;
};

static uint64_t asid(void)
{
	uint64_t cr3 = 0;

	mh->reg_read(reg_cr3, &cr3, sizeof(cr3));
	return cr3 & ~0xfffull;
}

static void dump_var(const char *ty, const char *nm, LocType t, uint64_t loc);

static void on_line(mh_cpu *cpu, uint64_t pc, const char *file,
		    const char *fn, unsigned long long lno)
{
	uint64_t as = asid();
	PC_Info info = { 0 };
	struct arm *a;

	g_mutex_lock(&lock);
	fprintf(outf, "line %" PRIx64 " %" PRIx64 " %s %llu\n", as, pc, file, lno);
	if (!stpi_get_pc_source_info(cpu, pc, &info))
		fprintf(outf, "info %" PRIx64 " %" PRIx64 " %s %s %llu\n", as, pc,
			info.funct_name, info.file_name, (unsigned long long)info.line_number);
	else
		fprintf(outf, "info %" PRIx64 " %" PRIx64 " ? ? 0\n", as, pc);
	a = g_hash_table_lookup(armed, &as);
	if (a && !strcmp(fn, "up_step")) {
		var_pid = a->pid;
		var_k = a->k;
		g_hash_table_remove(armed, &as);
		stpi_all_livevar_iter(cpu, pc, dump_var);
	}
	g_mutex_unlock(&lock);
}

static void on_fn(mh_cpu *cpu, uint64_t pc, const char *file,
		  const char *fn, unsigned long long lno)
{
	(void)cpu;
	g_mutex_lock(&lock);
	fprintf(outf, "fn %" PRIx64 " %" PRIx64 " %s %s %llu\n", asid(), pc, fn,
		file, lno);
	g_mutex_unlock(&lock);
}

static void dump_var(const char *ty, const char *nm, LocType t, uint64_t loc)
{
	uint64_t v = 0;
	int ok = 0;

	(void)ty;
	switch (t) {
	case LocMem:
		ok = !mh->mem_read(loc, &v, sizeof(v));
		break;
	case LocReg: {
		const char *name = stpi_dwarf_reg_name(8, loc);
		mh_reg *r = name ? mh->reg_lookup(name) : NULL;

		ok = r && mh->reg_read(r, &v, sizeof(v)) > 0;
		break;
	}
	case LocConst:
		v = loc;
		ok = 1;
		break;
	case LocErr:
		break;
	}
	if (ok)
		fprintf(outf, "var %" PRIu64 " %" PRIu64 " %s %" PRId64 "\n",
			var_pid, var_k, nm, (int64_t)v);
	else
		fprintf(outf, "var %" PRIu64 " %" PRIu64 " %s ?\n", var_pid, var_k, nm);
}

static uint64_t on_hypercall(mh_cpu *cpu, const struct mh_hypercall *c,
			     void *opaque)
{
	(void)cpu;
	(void)opaque;
	g_mutex_lock(&lock);
	if (c->magic == UP_HELLO) {
		fprintf(outf, "hello %" PRIx64 " %" PRIu64 " %" PRIu64 " 0x%" PRIx64 "\n",
			asid(), c->args[0], c->args[1], c->args[2]);
	} else {
		struct arm *a = g_new(struct arm, 1);

		a->pid = c->args[0];
		a->k = c->args[1];
		g_hash_table_replace(armed, g_memdup2((uint64_t[]){ asid() },
						      sizeof(uint64_t)), a);
	}
	fflush(outf);
	g_mutex_unlock(&lock);
	return 0;
}

static int probe_init(mh_module *self, const struct mh_api *api)
{
	int rc;

	mh = api;
	rc = probe_out_open(self, api, &outf);
	if (rc)
		return rc;
	reg_cr3 = api->reg_lookup("cr3");
	armed = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
	rc = api->ppp_register(self, STPI_MODULE, "on_before_line_change",
			       STPI_ON_BEFORE_LINE_CHANGE_SIG, (void (*)(void))on_line);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_fn_start",
				       STPI_ON_FN_START_SIG, (void (*)(void))on_fn);
	if (!rc)
		rc = api->hypercall_register(self, UP_HELLO, on_hypercall, NULL);
	if (!rc)
		rc = api->hypercall_register(self, UP_VAR, on_hypercall, NULL);
	return rc;
}

static void probe_exit(mh_module *self)
{
	(void)self;
	if (probe_out_close(mh, &outf))
		g_hash_table_destroy(armed);
}

MH_MODULE("up_probe", "1", "MIT",
	  "Writes stpi's answers about tests/linux/upprog.c's processes",
	  .init = probe_init,
	  .exit = probe_exit);
