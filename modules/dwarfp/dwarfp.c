// SPDX-License-Identifier: MIT
/*
 * dwarfp - stpi's DWARF provider.  prepare() indexes every binary=PATH
 * (index.c) on a host thread while the guest runs; init() handles stpi's
 * provider points and instruments the instructions that start a line (an
 * is_stmt row) or a function body (its post-prologue address), raising
 * stpi's line-change and function-start callbacks from there.
 */
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <modhost/module.h>
#include <modhost/stpi.h>

#include "dwarfp.h"

MH_PARAM_LIST(binary,
	      "a guest binary with DWARF: PATH[@0xBIAS]; repeat for several");
MH_PARAM_STR(asid, "",
	     "raise events only in this address space (cr3, hex); default: any");

static stpi_runcb_t stpi_runcb_on_before_line_change;
static stpi_runcb_t stpi_runcb_on_after_line_change;
static stpi_runcb_t stpi_runcb_on_fn_start;
MH_IMPORT(STPI_MODULE, stpi_runcb_on_before_line_change, STPI_RUNCB_SIG);
MH_IMPORT(STPI_MODULE, stpi_runcb_on_after_line_change, STPI_RUNCB_SIG);
MH_IMPORT(STPI_MODULE, stpi_runcb_on_fn_start, STPI_RUNCB_SIG);

/* An instrumented address: the start of a line, of a function body, or both. */
struct site {
	struct dw_binary *b;
	uint64_t pc;			/* biased */
	const struct dw_row *row;	/* NULL: not a line start */
	const char *fn_name;		/* innermost function */
	const struct dw_func *fn_start;	/* the function whose body starts here */
};

/* Per vCPU: the line it is on. */
struct vstate {
	const struct site *last;
};

static const struct mh_api *mh;
static mh_module *me;
static GPtrArray *bins;		/* struct dw_binary * */
static GArray *sites;		/* struct site, by pc */
static mh_scoreboard *vstates;
static mh_reg *regs[17];	/* by x86_64 DWARF number */
static mh_reg *reg_cr3;
static bool asid_on;
static uint64_t asid_val;

static const char *const reg_names[17] = {
	"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
};

/* -- the index ------------------------------------------------------------ */

static int site_cmp(const void *a, const void *b)
{
	const struct site *x = a, *y = b;

	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

static void add_sites(struct dw_binary *b, GHashTable *by_pc)
{
	for (guint i = 0; i < b->rows->len; i++) {
		const struct dw_row *r = &g_array_index(b->rows, struct dw_row, i);
		const struct dw_func *f;
		struct site s = { .b = b, .pc = r->addr + b->bias, .row = r };

		if (r->end || !r->is_stmt || !r->sline)
			continue;
		f = dw_func_at(b, r->addr, true);
		s.fn_name = f && f->name ? f->name : "??";
		g_array_append_val(sites, s);
	}
	for (guint i = 0; i < b->funcs->len; i++) {
		const struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (f->inlined || !f->post_prologue || !f->name)
			continue;
		g_hash_table_insert(by_pc, GSIZE_TO_POINTER(f->post_prologue + b->bias),
				    (void *)f);
	}
}

static void free_index(void)
{
	if (sites)
		g_array_free(sites, TRUE);
	sites = NULL;
	if (bins)
		g_ptr_array_free(bins, TRUE);
	bins = NULL;
}

static int build_index(mh_module *self, const struct mh_api *api)
{
	const char *spec = api->param_str(self, "binary");
	g_auto(GStrv) specs = NULL;
	g_autoptr(GHashTable) starts = g_hash_table_new(g_direct_hash, g_direct_equal);
	gint64 t0 = g_get_monotonic_time();
	guint n_rows = 0, n_funcs = 0;

	bins = g_ptr_array_new_with_free_func((GDestroyNotify)dw_close);
	sites = g_array_new(FALSE, FALSE, sizeof(struct site));
	if (!spec || !*spec) {
		api->log(self, MH_LOG_WARN, "no binary= given: nothing to index");
		return 0;
	}
	/* A list parameter: one binary=PATH[@0xBIAS] a line. */
	specs = g_strsplit(spec, "\n", -1);
	for (char **p = specs; *p; p++) {
		char *at = strrchr(*p, '@'), *end = NULL, *err = NULL;
		uint64_t bias = 0;
		struct dw_binary *b;

		if (!**p)
			continue;
		if (at) {
			*at = 0;
			bias = strtoull(at + 1, &end, 0);
			if (!at[1] || *end) {
				api->log(self, MH_LOG_ERROR, "binary=%s@%s: bad bias",
					 *p, at + 1);
				goto fail;
			}
		}
		b = dw_open(*p, bias, &err);
		if (!b) {
			api->log(self, MH_LOG_ERROR, "%s", err);
			g_free(err);
			goto fail;
		}
		g_ptr_array_add(bins, b);
		add_sites(b, starts);
		n_rows += b->rows->len;
		n_funcs += b->funcs->len;
	}
	g_array_sort(sites, site_cmp);
	/* Function starts: on the line site at that pc, or a site of their own. */
	{
		GHashTableIter it;
		void *k, *v;
		guint n = sites->len;

		g_hash_table_iter_init(&it, starts);
		while (g_hash_table_iter_next(&it, &k, &v)) {
			uint64_t pc = GPOINTER_TO_SIZE(k);
			struct site key = { .pc = pc }, *s;

			s = bsearch(&key, sites->data, n, sizeof(struct site), site_cmp);
			if (s) {
				s->fn_start = v;
			} else {
				const struct dw_func *f = v;
				struct site ns = { .pc = pc, .fn_start = f, .fn_name = f->name };

				for (guint i = 0; i < bins->len; i++) {
					struct dw_binary *b = g_ptr_array_index(bins, i);

					if (g_ptr_array_find(b->funcs, f, NULL))
						ns.b = b;
				}
				g_array_append_val(sites, ns);
			}
		}
		g_array_sort(sites, site_cmp);
	}
	api->log(self, MH_LOG_INFO,
		 "indexed %u binaries: %u line rows, %u functions, %u sites in %.1f ms",
		 bins->len, n_rows, n_funcs, sites->len,
		 (g_get_monotonic_time() - t0) / 1000.0);
	return 0;
fail:
	free_index();
	return -EINVAL;
}

static const struct site *site_at(uint64_t pc)
{
	struct site key = { .pc = pc };

	return bsearch(&key, sites->data, sites->len, sizeof(struct site), site_cmp);
}

/* The binary whose code holds @pc (biased), and the unbiased address. */
static struct dw_binary *binary_at(uint64_t pc, uint64_t *addr)
{
	for (guint i = 0; bins && i < bins->len; i++) {
		struct dw_binary *b = g_ptr_array_index(bins, i);

		if (pc >= b->bias && dw_line_at(b, pc - b->bias)) {
			*addr = pc - b->bias;
			return b;
		}
	}
	return NULL;
}

/* -- guest access for eval.c ---------------------------------------------- */

/*
 * Arm binaries number registers by Arm's DWARF ABI (stpi.h); x86 ones by
 * their code's width, as an x86_64 kernel may come in an ELF32 file.
 */
static bool is_arm(const struct dw_binary *b)
{
	return b->machine == EM_ARM || b->machine == EM_AARCH64;
}

static int read_reg(void *ctx, unsigned int regno, uint64_t *val)
{
	const struct dw_binary *b = ctx;
	const char *name = is_arm(b) ? stpi_dwarf_reg_name_elf(b->machine, regno)
				     : stpi_dwarf_reg_name(b->addr_size, regno);
	uint64_t v = 0;

	if (!name)
		return -1;
	if (is_arm(b)) {
		const mh_reg *r = mh->reg_lookup(name);

		if (!r || mh->reg_read(r, &v, sizeof(v)) < 0)
			return -1;
		*val = b->addr_size == 4 ? (uint32_t)v : v;
		return 0;
	}
	for (unsigned int i = 0; i < G_N_ELEMENTS(reg_names); i++) {
		if (!strcmp(reg_names[i], name)) {
			if (!regs[i] || mh->reg_read(regs[i], &v, sizeof(v)) < 0)
				return -1;
			*val = b->addr_size == 4 ? (uint32_t)v : v;
			return 0;
		}
	}
	return -1;
}

static int read_mem(void *ctx, uint64_t addr, void *buf, size_t len)
{
	(void)ctx;
	return mh->mem_read(addr, buf, len) ? -1 : 0;
}

/* -- stpi's provider points ------------------------------------------------ */

static void get_pc_source_info(mh_cpu *cpu, uint64_t pc, PC_Info *info, int *rc)
{
	uint64_t a;
	struct dw_binary *b = binary_at(pc, &a);
	const struct dw_row *r;
	const struct dw_func *f, *of;

	(void)cpu;
	if (!b || !info || !rc)
		return;
	r = dw_line_at(b, a);
	f = dw_func_at(b, a, true);
	of = dw_func_at(b, a, false);
	info->file_name = r->file;
	info->line_number = r->line;
	info->funct_name = f && f->name ? f->name : "??";
	info->funct_lowpc = of ? of->lo + b->bias : 0;
	*rc = 0;
}

static void iter_vars(struct dw_binary *b, const struct dw_func *f,
		      const GArray *vars, uint64_t a, liveVarCB cb)
{
	struct dw_guest g = { read_reg, read_mem, b };

	for (guint i = 0; i < vars->len; i++) {
		const struct dw_var *v = &g_array_index(vars, struct dw_var, i);
		LocType t;
		uint64_t val;

		if (!dw_var_in_scope(v, a) || dw_eval(b, f, &v->loc, a, &g, &t, &val))
			continue;
		cb(v->type, v->name, t, val);
	}
}

static void funct_livevar_iter(mh_cpu *cpu, uint64_t pc, liveVarCB cb)
{
	uint64_t a;
	struct dw_binary *b = binary_at(pc, &a);
	const struct dw_func *f;

	(void)cpu;
	if (!b || !(f = dw_func_at(b, a, false)))
		return;
	iter_vars(b, f, f->vars, a, cb);
}

static void global_livevar_iter(mh_cpu *cpu, uint64_t pc, liveVarCB cb)
{
	uint64_t a;
	struct dw_binary *b = binary_at(pc, &a);

	(void)cpu;
	if (b)
		iter_vars(b, NULL, b->globals, a, cb);
}

static void all_livevar_iter(mh_cpu *cpu, uint64_t pc, liveVarCB cb)
{
	funct_livevar_iter(cpu, pc, cb);
	global_livevar_iter(cpu, pc, cb);
}

/* -- events ----------------------------------------------------------------- */

static void on_site(unsigned int vcpu_index, void *udata)
{
	const struct site *s = udata;
	struct vstate *vs = mh->scoreboard_find(vstates, vcpu_index);
	mh_cpu *cpu = mh_cpu_of(vcpu_index);

	if (asid_on) {
		uint64_t cr3 = 0;

		mh->reg_read(reg_cr3, &cr3, sizeof(cr3));
		if ((cr3 & ~0xfffull) != asid_val)
			return;
	}
	if (s->row) {
		const struct site *p = vs->last;

		if (!p || p->row->sline != s->row->sline ||
		    p->row->sfile != s->row->sfile) {
			/* The first line of a run has no line before it. */
			if (p)
				stpi_runcb_on_after_line_change(cpu, p->pc, p->row->sfile,
								p->fn_name, p->row->sline);
			stpi_runcb_on_before_line_change(cpu, s->pc, s->row->sfile,
							 s->fn_name, s->row->sline);
		}
		vs->last = s;
	}
	if (s->fn_start)
		stpi_runcb_on_fn_start(cpu, s->pc, s->fn_start->pp_file,
				       s->fn_start->name, s->fn_start->pp_line);
}

static void translate(mh_tb *tb, void *opaque)
{
	size_t n = mh->tb_n_insns(tb);

	(void)opaque;
	for (size_t i = 0; i < n; i++) {
		mh_insn *insn = mh->tb_insn(tb, i);
		const struct site *s = site_at(mh->insn_vaddr(insn));

		/* R_REGS: handlers may read variables, and asid= reads cr3. */
		if (s)
			mh->insn_exec_cb(insn, on_site, MH_CB_R_REGS, (void *)s);
	}
}

/* -- hooks ------------------------------------------------------------------- */

static int dwarfp_prepare(mh_module *self, const struct mh_api *api)
{
	free_index();
	return build_index(self, api);
}

static int dwarfp_init(mh_module *self, const struct mh_api *api)
{
	const char *as;
	int rc;

	mh = api;
	me = self;
	/* A rolled-back reload runs init again without prepare. */
	if (!bins && (rc = build_index(self, api)))
		return rc;
	as = api->param_str(self, "asid");
	asid_on = as && *as;
	if (asid_on) {
		char *end;

		asid_val = strtoull(as, &end, 16) & ~0xfffull;
		if (*end) {
			api->log(self, MH_LOG_ERROR, "asid=%s: not a hex number", as);
			return -EINVAL;
		}
	}
	for (unsigned int i = 0; i < G_N_ELEMENTS(reg_names); i++)
		regs[i] = api->reg_lookup(reg_names[i]);
	reg_cr3 = api->reg_lookup("cr3");
	vstates = api->scoreboard_new(self, sizeof(struct vstate));
	if (!vstates)
		return -ENOMEM;

	rc = api->ppp_register(self, STPI_MODULE, "on_get_pc_source_info",
			       STPI_ON_GET_PC_SOURCE_INFO_SIG,
			       (void (*)(void))get_pc_source_info);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_all_livevar_iter",
				       STPI_ON_LIVEVAR_ITER_SIG,
				       (void (*)(void))all_livevar_iter);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_global_livevar_iter",
				       STPI_ON_LIVEVAR_ITER_SIG,
				       (void (*)(void))global_livevar_iter);
	if (!rc)
		rc = api->ppp_register(self, STPI_MODULE, "on_funct_livevar_iter",
				       STPI_ON_LIVEVAR_ITER_SIG,
				       (void (*)(void))funct_livevar_iter);
	if (rc)
		return rc;
	return api->set_translate(self, translate, NULL);
}

static void dwarfp_exit(mh_module *self)
{
	(void)self;
	/*
	 * When QEMU ends, other vCPUs may still be in on_site() and the
	 * provider points: keep everything.  On an unload or a reload every
	 * vCPU is stopped and translated code is flushed, so no callback uses
	 * the sites or the index any more; the host frees the scoreboard.  A
	 * rolled-back reload runs init again, which rebuilds the index.
	 */
	if (mh->exiting())
		return;
	free_index();
	vstates = NULL;
}

/*
 * The handoff across a reload: per vCPU, the pc of the line it is on (0:
 * none yet), so that the new version neither raises a second
 * on_before_line_change for that line nor loses the on_after_line_change
 * that closes it.  The new version looks the pc up in its own index; if
 * the binary changed and no line starts there, it starts afresh.
 */
static int dwarfp_save_state(mh_module *self, void **data, size_t *len)
{
	unsigned int n = mh->num_vcpus();
	uint64_t *pcs;

	(void)self;
	pcs = calloc(n ? n : 1, sizeof(*pcs));
	if (!pcs)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		const struct vstate *vs = mh->scoreboard_find(vstates, i);

		if (vs && vs->last)
			pcs[i] = vs->last->pc;
	}
	*data = pcs;
	*len = n * sizeof(*pcs);
	return 0;
}

static int dwarfp_restore_state(mh_module *self, const void *data, size_t len,
				const char *old_version)
{
	unsigned int n = mh->num_vcpus();

	(void)self;
	(void)old_version;
	for (unsigned int i = 0; i < n && (i + 1) * sizeof(uint64_t) <= len; i++) {
		struct vstate *vs = mh->scoreboard_find(vstates, i);
		const struct site *s;
		uint64_t pc;

		/* The blob carries no alignment promise. */
		memcpy(&pc, (const char *)data + i * sizeof(pc), sizeof(pc));
		s = pc ? site_at(pc) : NULL;

		if (vs && s && s->row)
			vs->last = s;
	}
	return 0;
}

MH_MODULE("dwarfp", "1.0", "MIT",
	  "DWARF provider of stpi: lines, function starts, live variables",
	  .prepare = dwarfp_prepare,
	  .init = dwarfp_init,
	  .exit = dwarfp_exit,
	  .save_state = dwarfp_save_state,
	  .restore_state = dwarfp_restore_state);
