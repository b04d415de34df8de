// SPDX-License-Identifier: MIT
/*
 * stpi_probe - the stpi tests' client.  Logs (api->log, one "probe: ..."
 * line each) what stpi tells it, for the TAP scripts to compare with gdb:
 *
 *   q=ADDR        at init: stpi_get_pc_source_info(ADDR) and its answer
 *                 (repeatable)
 *   bp_line=N     the first time line N of a file ending in bp_file starts:
 *                 every live variable (function's, then globals) with the
 *                 32-bit value read from where stpi says it lives; a LocReg
 *                 is named with the DWARF numbering of machine (an ELF
 *                 e_machine: 183 aarch64, 40 arm) or else addr_size (4: i386,
 *                 8: x86_64), which a client has to know
 *   regmap=on     at init: "regmap SIZE NUMBER NAME" for DWARF registers
 *                 0-16 of both numberings, as stpi_dwarf_reg_name() gives them
 *   at exit       the counts of line and function-start events, the first
 *                 before/after line events, any event with line 0, the
 *                 number of events that break the pairing rule (an after
 *                 that is not the last before's line, a before whose line
 *                 did not change or that no after preceded, except the
 *                 first one), and a hash and count of the events in files
 *                 ending in bp_file (the guest's own code: libguest's serial
 *                 polling loops a number of times that depends on timing)
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>
#include <modhost/stpi.h>

MH_PARAM_LIST(q, "address to look up at init (repeatable)");
MH_PARAM_UINT(bp_line, 0, "line at which to dump the live variables");
MH_PARAM_STR(bp_file, "sguest.c", "file suffix of bp_line");
MH_PARAM_UINT(addr_size, 4, "the guest's DWARF register numbering: 4 or 8");
MH_PARAM_UINT(machine, 0, "or by the ELF machine: 183 aarch64, 40 arm");
MH_PARAM_BOOL(regmap, false, "log stpi_dwarf_reg_name() for both numberings");

static stpi_get_pc_source_info_t stpi_get_pc_source_info;
static stpi_livevar_iter_t stpi_funct_livevar_iter;
static stpi_livevar_iter_t stpi_global_livevar_iter;
MH_IMPORT(STPI_MODULE, stpi_get_pc_source_info, STPI_GET_PC_SOURCE_INFO_SIG);
MH_IMPORT(STPI_MODULE, stpi_funct_livevar_iter, STPI_LIVEVAR_ITER_SIG);
MH_IMPORT(STPI_MODULE, stpi_global_livevar_iter, STPI_LIVEVAR_ITER_SIG);

static const struct mh_api *mh;
static mh_module *me;
static uint64_t n_before, n_after, n_fn, n_zero, bp_line;
static uint64_t n_bad, n_seq, seq_hash;
static unsigned long long first_before, first_after;
static bool seen_after_first, dumped;
static const char *bp_file;
static unsigned int addr_size, machine;
/* The pairing rule, one vCPU (the test guests have one). */
static char open_file[512];	/* the line before_line_change opened */
static unsigned long long open_lno;
static bool is_open;

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

/* FNV-1a over the events: (kind, pc, file, function, line). */
static void hash_bytes(const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n--)
		seq_hash = (seq_hash ^ *c++) * 0x100000001b3ull;
}

static void hash_event(char kind, uint64_t pc, const char *file,
		       const char *fn, unsigned long long lno)
{
	if (!ends_with(file, bp_file))
		return;
	n_seq++;
	hash_bytes(&kind, 1);
	hash_bytes(&pc, sizeof(pc));
	hash_bytes(file, strlen(file) + 1);
	hash_bytes(fn, strlen(fn) + 1);
	hash_bytes(&lno, sizeof(lno));
}

static void dump_var(const char *ty, const char *nm, LocType t, uint64_t loc)
{
	uint32_t v = 0;
	const char *how = "?", *reg = NULL;
	int ok = 0;

	switch (t) {
	case LocMem:
		how = "mem";
		ok = !mh->mem_read(loc, &v, sizeof(v));
		break;
	case LocReg: {
		mh_reg *r;
		uint64_t x = 0;

		how = "reg";
		reg = machine ? stpi_dwarf_reg_name_elf(machine, loc) :
				stpi_dwarf_reg_name(addr_size, loc);
		r = reg ? mh->reg_lookup(reg) : NULL;
		ok = r && mh->reg_read(r, &x, sizeof(x)) > 0;
		v = (uint32_t)x;
		break;
	}
	case LocConst:
		how = "const";
		v = (uint32_t)loc;
		ok = 1;
		break;
	case LocErr:
		how = "err";
		break;
	}
	if (ok)
		mh->log(me, MH_LOG_INFO, "probe: var %s %s = %d (%s, %s%s%s)", nm,
			how, (int32_t)v, ty, how, reg ? " " : "", reg ? reg : "");
	else
		mh->log(me, MH_LOG_INFO, "probe: var %s %s = ? (%s)", nm, how, ty);
}

static void on_before(mh_cpu *cpu, uint64_t pc, const char *file,
		      const char *fn, unsigned long long lno)
{
	if (!n_before++)
		first_before = lno;
	if (!lno)
		n_zero++;
	if (is_open || (n_before > 1 && lno == open_lno && !strcmp(file, open_file)))
		n_bad++;
	is_open = true;
	/* A copy: the provider's strings go when it is reloaded. */
	snprintf(open_file, sizeof(open_file), "%s", file);
	open_lno = lno;
	hash_event('B', pc, file, fn, lno);
	if (!dumped && bp_line && lno == bp_line && ends_with(file, bp_file)) {
		dumped = true;
		mh->log(me, MH_LOG_INFO, "probe: bp %s:%llu in %s pc=0x%" PRIx64,
			file, lno, fn, pc);
		stpi_funct_livevar_iter(cpu, pc, dump_var);
		stpi_global_livevar_iter(cpu, pc, dump_var);
		mh->log(me, MH_LOG_INFO, "probe: bp end");
	}
}

static void on_after(mh_cpu *cpu, uint64_t pc, const char *file,
		     const char *fn, unsigned long long lno)
{
	(void)cpu;
	if (!n_after++) {
		first_after = lno;
		seen_after_first = n_before == 0;
	}
	if (!lno)
		n_zero++;
	if (!is_open || lno != open_lno || strcmp(file, open_file))
		n_bad++;
	is_open = false;
	hash_event('A', pc, file, fn, lno);
}

static void on_fn(mh_cpu *cpu, uint64_t pc, const char *file, const char *fn,
		  unsigned long long lno)
{
	(void)cpu;
	hash_event('F', pc, file, fn, lno);
	if (n_fn++ < 1000)
		mh->log(me, MH_LOG_INFO, "probe: fn-start %s 0x%" PRIx64 " %llu",
			fn, pc, lno);
}

static int probe_init(mh_module *self, const struct mh_api *api)
{
	const char *qs = api->param_str(self, "q");
	int rc;

	mh = api;
	me = self;
	n_before = n_after = n_fn = n_zero = n_bad = n_seq = 0;
	seq_hash = 0xcbf29ce484222325ull;
	is_open = false;
	first_before = first_after = 0;
	seen_after_first = dumped = false;
	bp_line = api->param_uint(self, "bp_line");
	bp_file = api->param_str(self, "bp_file");
	addr_size = api->param_uint(self, "addr_size");
	machine = api->param_uint(self, "machine");
	if (api->param_bool(self, "regmap")) {
		for (unsigned int sz = 4; sz <= 8; sz += 4) {
			for (unsigned int r = 0; r <= 16; r++) {
				const char *name = stpi_dwarf_reg_name(sz, r);

				api->log(self, MH_LOG_INFO, "probe: regmap %u %u %s",
					 sz, r, name ? name : "-");
			}
		}
	}
	/* One address a line (a list parameter). */
	for (char *end; qs && *qs; qs = *end ? end + 1 : end) {
		uint64_t q = strtoull(qs, &end, 0);
		PC_Info info = { 0 };

		if (end == qs || (*end && *end != '\n')) {
			api->log(self, MH_LOG_ERROR, "q=%s: not an address", qs);
			return -EINVAL;
		}
		rc = stpi_get_pc_source_info(mh_cpu_of(0), q, &info);
		api->log(self, MH_LOG_INFO,
			 "probe: q=0x%" PRIx64 " rc=%d fn=%s file=%s line=%llu",
			 q, rc, rc ? "-" : info.funct_name,
			 rc ? "-" : info.file_name, rc ? 0 : info.line_number);
	}
	rc = api->ppp_register(self, STPI_MODULE, "on_before_line_change",
			       STPI_ON_BEFORE_LINE_CHANGE_SIG, (void (*)(void))on_before);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_after_line_change",
				       STPI_ON_AFTER_LINE_CHANGE_SIG, (void (*)(void))on_after);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_fn_start",
				       STPI_ON_FN_START_SIG, (void (*)(void))on_fn);
	return rc;
}

static void probe_exit(mh_module *self)
{
	mh->log(self, MH_LOG_INFO,
		"probe: before=%" PRIu64 " after=%" PRIu64 " fn=%" PRIu64
		" zero=%" PRIu64 " first_before=%llu first_after=%llu after_first=%d"
		" bad=%" PRIu64 " nseq=%" PRIu64 " seq=%016" PRIx64,
		n_before, n_after, n_fn, n_zero, first_before, first_after,
		seen_after_first, n_bad, n_seq, seq_hash);
}

MH_MODULE("stpi_probe", "1", "MIT", "test module: stpi client",
	  .init = probe_init,
	  .exit = probe_exit);
