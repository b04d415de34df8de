// SPDX-License-Identifier: MIT
/*
 * dwarfp - stpi's DWARF provider.  prepare() indexes every binary=PATH
 * (index.c) on a host thread while the guest runs; init() handles stpi's
 * provider points and instruments the instructions that start a line (an
 * is_stmt row) or a function body (its post-prologue address), raising
 * stpi's line-change and function-start callbacks from there.
 *
 * A position-independent binary (ELF type ET_DYN: a PIE program, a shared
 * library) given without a bias is placed at run time, per address space:
 * where osi's get_mappings() says the current process maps a file of the
 * same base name.  Its sites are instrumented at translation, from the
 * current process's mappings (read again when a user-space pc outside
 * every known mapping is translated, forgotten when on_task_change shows
 * another process in that address space).  QEMU shares translated code
 * between processes that map the same page at different addresses (x86
 * translates pc-relative), so such a site carries its address in the
 * file, and its run-time pc is found when it runs: the file's base in the
 * address space running it.
 *
 * A kernel image (an x86_64 vmlinux: ET_EXEC, linked in the upper half)
 * is relocated by KASLR at each boot: its code runs at its link addresses
 * plus a slide.  Given without a bias, the slide is found at run time the
 * way symtab.c finds it for callstack_instr's symbols=: from the targets
 * of the direct calls the kernel's code makes, which land on function
 * starts under the right slide only.  Until then no kernel code is
 * instrumented; once found, translated code is flushed so that every
 * kernel block is instrumented when it runs next.  The image's ELF symbol
 * table also names the functions that have no DWARF subprogram (assembly,
 * generated stubs), as addr2line does.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <modhost/module.h>
#include <modhost/osi.h>
#include <modhost/stpi.h>

#include "dwarfp.h"
#include "symtab.h"

MH_PARAM_LIST(binary,
	      "a guest binary with DWARF: PATH[@0xBIAS]; repeat for several");
MH_PARAM_STR(asid, "",
	     "raise events only in this address space (cr3, hex); default: any");
MH_PARAM_LIST(function,
	      "raise events only in functions of this name (a glob); repeat "
	      "for several; default: all");

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
	const char *sfile;		/* the statement line it starts ... */
	uint32_t sline;			/* ... 0: not a line start */
	const char *fn_name;		/* innermost function */
	const char *outer_name;		/* the out-of-line one holding it */
	const struct dw_func *fn_start;	/* the function whose body starts here */
	const struct ubin *u;		/* placed at run time: @pc is unbiased */
	bool kern;			/* in the kernel image: @pc is unbiased */
};

/* A position-independent binary given without a bias: placed at run time. */
struct ubin {
	struct dw_binary *b;
	char *name;			/* the base name its guest file must have */
	GArray *sites;			/* struct site, unbiased */
};

/*
 * The kernel image, if one was given (at most one: there is one slide).
 * Its dw_binary has bias 0; the slide is kept here, as it may be found
 * only while the guest runs.
 */
struct kbin {
	struct dw_binary *b;
	struct symtab *syms;		/* its ELF symbols; NULL: none (stripped) */
	GArray *bare;			/* struct dw_func: symbols without DWARF, by lo */
	GArray *sites;			/* struct site, unbiased */
	bool found;			/* no bias given: the slide is found at run time */
	int64_t slide;			/* guest address minus link address */
	bool placed;			/* @slide is known: set with release after it */
};

/* A mapping of a process, and where one of ours sits in it. */
struct umap {
	uint64_t lo, hi;
	const struct ubin *u;		/* NULL: not one of ours */
	uint64_t base;			/* u's load base in this process */
};

/* What dwarfp knows of an address space (a process). */
struct aspace {
	int32_t pid;
	uint64_t create_time;
	GArray *maps;			/* struct umap, by address */
};

/* Per vCPU: the line it is on. */
struct vstate {
	const struct site *last;
	uint64_t last_pc;		/* run-time pc of @last */
	/* The last base found for a placed site: valid while as_gen is @gen. */
	uint64_t c_asid, c_base;
	const struct ubin *c_u;
	unsigned int c_gen;
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
static GPtrArray *fn_globs;	/* GPatternSpec *; NULL: every function */
static GPtrArray *ubins;	/* struct ubin * */
/* as_lock guards aspaces and as_gen: every vCPU translates and runs sites. */
static GMutex as_lock;
static GHashTable *aspaces;	/* asid -> struct aspace * */
static unsigned int as_gen;	/* bumped when an address space is read or forgotten */
static osi_get_current_process_t get_current_process;
static osi_get_mappings_t get_mappings;
static osi_free_osiproc_t free_osiproc;
static osi_free_osimodules_t free_osimodules;
static struct kbin *kern;	/* NULL: no kernel image given */

static const char *const reg_names[17] = {
	"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
};

/* -- the index ------------------------------------------------------------ */

/*
 * The function holding @addr (unbiased) in @b: its DWARF one, else, in
 * the kernel image, the symbol there (what addr2line falls back to).
 */
static const struct dw_func *func_at(const struct dw_binary *b, uint64_t addr,
				     bool innermost)
{
	const struct dw_func *f = dw_func_at(b, addr, innermost);

	if (!f && kern && b == kern->b)
		f = dw_bare_at(kern->bare, addr);
	return f;
}

static int site_cmp(const void *a, const void *b)
{
	const struct site *x = a, *y = b;

	return x->pc < y->pc ? -1 : x->pc > y->pc;
}

static void add_sites(GArray *a, struct dw_binary *b, GHashTable *by_pc)
{
	for (guint i = 0; i < b->rows->len; i++) {
		const struct dw_row *r = &g_array_index(b->rows, struct dw_row, i);
		const struct dw_func *f;
		struct site s = { .b = b, .pc = r->addr + b->bias,
				  .sfile = dw_file(b, r->sfile), .sline = r->sline };

		if (r->end || !r->is_stmt || !r->sline)
			continue;
		f = func_at(b, r->addr, true);
		s.fn_name = f && f->name ? f->name : "??";
		if (f && f->inlined && f->outer)
			f = f->outer;
		s.outer_name = f && f->name ? f->name : "??";
		g_array_append_val(a, s);
	}
	for (guint i = 0; i < b->funcs->len; i++) {
		const struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (f->inlined || !f->post_prologue || !f->name)
			continue;
		g_hash_table_insert(by_pc, GSIZE_TO_POINTER(f->post_prologue + b->bias),
				    (void *)f);
	}
}

/*
 * The sites of the @n binaries @v, sorted by pc; @extra (NULL: none)
 * adds the starts of functions that have no DWARF subprogram.
 */
static GArray *make_sites(struct dw_binary *const *v, guint n,
			  const GArray *extra)
{
	g_autoptr(GHashTable) starts = g_hash_table_new(g_direct_hash, g_direct_equal);
	GArray *a = g_array_new(FALSE, FALSE, sizeof(struct site));
	GHashTableIter it;
	void *k, *val;
	guint n_line;

	for (guint i = 0; i < n; i++)
		add_sites(a, v[i], starts);
	for (guint i = 0; extra && i < extra->len; i++) {
		const struct dw_func *f = &g_array_index(extra, struct dw_func, i);

		g_hash_table_insert(starts, GSIZE_TO_POINTER(f->post_prologue),
				    (void *)f);
	}
	g_array_sort(a, site_cmp);
	/* Function starts: on the line site at that pc, or a site of their own. */
	n_line = a->len;
	g_hash_table_iter_init(&it, starts);
	while (g_hash_table_iter_next(&it, &k, &val)) {
		uint64_t pc = GPOINTER_TO_SIZE(k);
		struct site key = { .pc = pc }, *s;

		s = bsearch(&key, a->data, n_line, sizeof(struct site), site_cmp);
		if (s) {
			s->fn_start = val;
		} else {
			const struct dw_func *f = val;
			struct site ns = { .pc = pc, .fn_start = f, .fn_name = f->name };

			for (guint i = 0; i < n; i++)
				if (g_ptr_array_find(v[i]->funcs, f, NULL))
					ns.b = v[i];
			g_array_append_val(a, ns);
		}
	}
	g_array_sort(a, site_cmp);
	return a;
}

static void ubin_free(void *p)
{
	struct ubin *u = p;

	dw_close(u->b);
	g_array_free(u->sites, TRUE);
	g_free(u->name);
	g_free(u);
}

static void kbin_free(struct kbin *k)
{
	if (!k)
		return;
	dw_close(k->b);
	symtab_free(k->syms);
	if (k->bare)
		g_array_free(k->bare, TRUE);
	if (k->sites)
		g_array_free(k->sites, TRUE);
	g_free(k);
}

static void aspace_free(void *p)
{
	struct aspace *a = p;

	g_array_free(a->maps, TRUE);
	g_free(a);
}

static void free_index(void)
{
	if (sites)
		g_array_free(sites, TRUE);
	sites = NULL;
	if (bins)
		g_ptr_array_free(bins, TRUE);
	bins = NULL;
	if (ubins)
		g_ptr_array_free(ubins, TRUE);
	ubins = NULL;
	if (aspaces)
		g_hash_table_destroy(aspaces);
	aspaces = NULL;
	kbin_free(kern);
	kern = NULL;
}

/* Is @path position-independent (ET_DYN)?  1, 0, or -1 (not an ELF file). */
static int is_pie(const char *path)
{
	GElf_Ehdr eh;
	Elf *e;
	int fd, ret = -1;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (e && gelf_getehdr(e, &eh))
		ret = eh.e_type == ET_DYN;
	elf_end(e);
	close(fd);
	return ret;
}

/*
 * Take @b as the kernel image: at the slide @b was opened with if
 * @given, else at the one found at run time from its symbol table.  On
 * failure @b is still the caller's.
 */
static int kbin_add(mh_module *self, const struct mh_api *api,
		    struct dw_binary *b, bool given)
{
	g_autofree char *err = NULL;
	struct kbin *k;

	if (kern) {
		api->log(self, MH_LOG_ERROR, "binary=%s: a second kernel image "
			 "(binary=%s is one): there is one KASLR slide", b->path,
			 kern->b->path);
		return -EINVAL;
	}
	k = g_new0(struct kbin, 1);
	k->syms = symtab_load(b->path, &err);
	if (!k->syms && !given) {
		api->log(self, MH_LOG_ERROR, "binary=%s: a kernel image, moved at "
			 "boot by KASLR: finding its slide needs its symbol table: "
			 "%s; or give the slide: binary=%s@0xSLIDE (@0 for a "
			 "kernel booted with nokaslr)", b->path, err, b->path);
		g_free(k);
		return -EINVAL;
	}
	if (!k->syms)
		api->log(self, MH_LOG_WARN, "binary=%s: %s: functions without "
			 "DWARF are left unnamed", b->path, err);
	k->b = b;
	k->found = !given;
	k->slide = (int64_t)b->bias;
	k->placed = given;
	b->bias = 0;
	k->bare = dw_bare_build(b, k->syms);
	/* func_at() names the sites' functions from kern's bare ones. */
	kern = k;
	k->sites = make_sites(&k->b, 1, k->bare);
	for (guint i = 0; i < k->sites->len; i++)
		g_array_index(k->sites, struct site, i).kern = true;
	api->log(self, MH_LOG_INFO, "binary=%s: a kernel image; functions named "
		 "from its symbol table only (no DWARF): %u; its KASLR slide %s",
		 b->path, k->bare->len, given ? "given" : "is found at run time");
	return 0;
}

static int build_index(mh_module *self, const struct mh_api *api)
{
	const char *spec = api->param_str(self, "binary");
	g_auto(GStrv) specs = NULL;
	gint64 t0 = g_get_monotonic_time();
	guint n_rows = 0, n_funcs = 0, n_sites;

	bins = g_ptr_array_new_with_free_func((GDestroyNotify)dw_close);
	ubins = g_ptr_array_new_with_free_func(ubin_free);
	aspaces = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, aspace_free);
	if (!spec || !*spec) {
		sites = g_array_new(FALSE, FALSE, sizeof(struct site));
		api->log(self, MH_LOG_WARN, "no binary= given: nothing to index");
		return 0;
	}
	/* A list parameter: one binary=PATH[@0xBIAS] a line. */
	specs = g_strsplit(spec, "\n", -1);
	for (char **p = specs; *p; p++) {
		char *at = strrchr(*p, '@'), *end = NULL, *err = NULL;
		uint64_t bias = 0;
		int type;
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
		if (b->warning)
			api->log(self, MH_LOG_WARN, "binary=%s: %s", *p, b->warning);
		type = is_pie(*p);
		n_rows += b->rows->len;
		n_funcs += b->funcs->len;
		/* Without a bias, a PIE program or a library goes where it is mapped. */
		if (!type && dw_is_kernel(b)) {
			if (kbin_add(self, api, b, at)) {
				dw_close(b);
				goto fail;
			}
		} else if (!at && type == 1) {
			struct ubin *u = g_new0(struct ubin, 1);

			u->b = b;
			u->name = g_path_get_basename(*p);
			u->sites = make_sites(&u->b, 1, NULL);
			for (guint i = 0; i < u->sites->len; i++)
				g_array_index(u->sites, struct site, i).u = u;
			g_ptr_array_add(ubins, u);
		} else {
			g_ptr_array_add(bins, b);
		}
	}
	sites = make_sites((struct dw_binary **)bins->pdata, bins->len, NULL);
	n_sites = sites->len;
	for (guint i = 0; i < ubins->len; i++)
		n_sites += ((struct ubin *)g_ptr_array_index(ubins, i))->sites->len;
	if (kern)
		n_sites += kern->sites->len;
	api->log(self, MH_LOG_INFO,
		 "indexed %u binaries: %u line rows, %u functions, %u sites in %.1f ms"
		 "%s", bins->len + ubins->len + !!kern, n_rows, n_funcs, n_sites,
		 (g_get_monotonic_time() - t0) / 1000.0,
		 ubins->len ? " (position-independent ones placed at run time through osi)" : "");
	return 0;
fail:
	free_index();
	return -EINVAL;
}

static const struct site *site_in(const GArray *a, uint64_t pc)
{
	struct site key = { .pc = pc };

	return bsearch(&key, a->data, a->len, sizeof(struct site), site_cmp);
}

static const struct site *site_at(uint64_t pc)
{
	return site_in(sites, pc);
}

/* -- the kernel image: its KASLR slide ------------------------------------- */

/* The kernel's slide, if known. */
static bool kern_slide(int64_t *slide)
{
	if (!kern || !__atomic_load_n(&kern->placed, __ATOMIC_ACQUIRE))
		return false;
	*slide = kern->slide;
	return true;
}

/* The site at the run-time @pc: a fixed binary's, or the kernel's. */
static const struct site *site_at_any(uint64_t pc)
{
	const struct site *s = site_at(pc);
	int64_t slide;

	if (!s && pc >= USER_TOP && kern_slide(&slide))
		s = site_in(kern->sites, pc - (uint64_t)slide);
	return s;
}

/* Is the kernel's slide still to be found? */
static bool slide_pending(void)
{
	return kern && kern->found &&
	       !__atomic_load_n(&kern->placed, __ATOMIC_ACQUIRE);
}

static void publish_slide(int64_t slide)
{
	kern->slide = slide;
	__atomic_store_n(&kern->placed, true, __ATOMIC_RELEASE);
}

/* Nothing to do: the flush is what was asked for. */
static void retranslate(mh_module *self, void *opaque)
{
	(void)self;
	(void)opaque;
}

/*
 * While the slide is not known: the target of a block's closing direct
 * call (E8 rel32, what the kernel's calls are) is a vote for the slide
 * that puts it on a function's start (symtab_observe()).  When one wins,
 * the kernel's code translated so far, which carries no site, is flushed.
 */
static void observe_call(mh_tb *tb)
{
	size_t n = mh->tb_n_insns(tb);
	mh_insn *insn = n ? mh->tb_insn(tb, n - 1) : NULL;
	unsigned char c[5];
	unsigned int votes, seen;
	int64_t slide;
	int32_t rel;

	if (!insn || mh->insn_size(insn) != sizeof(c) ||
	    mh->insn_data(insn, c, sizeof(c)) != sizeof(c) || c[0] != 0xe8)
		return;
	memcpy(&rel, c + 1, sizeof(rel));
	if (!symtab_observe(kern->syms,
			    mh->insn_vaddr(insn) + sizeof(c) + (int64_t)rel) ||
	    !symtab_offset(kern->syms, &slide, &votes, &seen))
		return;
	publish_slide(slide);
	mh->log(me, MH_LOG_INFO, "binary=%s: KASLR slide %s0x%" PRIx64 " (%u of %u "
		"call targets on a symbol's start under it)", kern->b->path,
		slide < 0 ? "-" : "", slide < 0 ? -(uint64_t)slide : (uint64_t)slide,
		votes, seen);
	mh->run_stopped(me, retranslate, NULL);
}

/* -- position-independent binaries: where each process has them ------------ */

static uint64_t current_asid(void)
{
	uint64_t cr3 = 0;

	if (!reg_cr3 || mh->reg_read(reg_cr3, &cr3, sizeof(cr3)) < 0)
		return 0;
	return cr3 & ~0xfffull;
}

static const struct ubin *ubin_named(const char *name)
{
	for (guint i = 0; i < ubins->len; i++) {
		const struct ubin *u = g_ptr_array_index(ubins, i);

		if (!strcmp(u->name, name))
			return u;
	}
	return NULL;
}

/* The mapping of @asid that holds @pc, as last read; false if none.  as_lock held. */
static bool umap_find_locked(uint64_t asid, uint64_t pc, struct umap *out)
{
	const struct aspace *a = g_hash_table_lookup(aspaces, &asid);

	for (guint i = 0; a && i < a->maps->len; i++) {
		const struct umap *m = &g_array_index(a->maps, struct umap, i);

		if (pc >= m->lo && pc < m->hi) {
			*out = *m;
			return true;
		}
	}
	return false;
}

/*
 * Read the current process's mappings (osi) into its address space's
 * entry.  A file of ours is based where its mapping at file offset 0
 * starts (the first PT_LOAD of a PIE is at 0).  From a vCPU's thread.
 */
static void refresh_aspace(uint64_t asid)
{
	/* osi_linux reads the calling vCPU, whichever cpu it is given. */
	mh_cpu *cpu = mh_cpu_of(0);
	OsiProc *p = get_current_process ? get_current_process(cpu) : NULL;
	OsiModules *l = p && p->asid == asid ? get_mappings(cpu, p) : NULL;
	struct aspace *a;

	if (!l)
		goto out;
	a = g_new0(struct aspace, 1);
	a->pid = p->pid;
	a->create_time = p->create_time;
	a->maps = g_array_sized_new(FALSE, FALSE, sizeof(struct umap), l->num);
	for (uint32_t i = 0; i < l->num; i++) {
		const OsiModule *o = &l->mods[i];
		struct umap m = { .lo = o->base, .hi = o->base + o->size };

		m.u = o->file ? ubin_named(o->name) : NULL;
		m.base = o->base - o->offset;
		for (uint32_t j = 0; m.u && j < l->num; j++) {
			const OsiModule *z = &l->mods[j];

			if (z->file && !z->offset && !strcmp(z->file, o->file)) {
				m.base = z->base;
				break;
			}
		}
		g_array_append_val(a->maps, m);
	}
	g_mutex_lock(&as_lock);
	g_hash_table_replace(aspaces, g_memdup2(&asid, sizeof(asid)), a);
	as_gen++;
	g_mutex_unlock(&as_lock);
out:
	if (l)
		free_osimodules(l);
	if (p)
		free_osiproc(p);
}

/*
 * The current process's mapping holding the user-space @pc; its mappings
 * are read again first if none is known to hold it and @refresh.  A
 * zeroed umap when there is none.
 */
static struct umap umap_at(uint64_t pc, bool refresh)
{
	uint64_t asid = current_asid();
	struct umap m = { 0 };
	bool found;

	if (!asid || pc >= USER_TOP || !ubins->len)
		return m;
	g_mutex_lock(&as_lock);
	found = umap_find_locked(asid, pc, &m);
	g_mutex_unlock(&as_lock);
	if (found || !refresh)
		return m;
	refresh_aspace(asid);
	g_mutex_lock(&as_lock);
	umap_find_locked(asid, pc, &m);
	g_mutex_unlock(&as_lock);
	return m;
}

/* The base of @u in @asid, as last read; false if none.  as_lock held. */
static bool ubin_base_locked(uint64_t asid, const struct ubin *u, uint64_t *base)
{
	const struct aspace *a = g_hash_table_lookup(aspaces, &asid);

	for (guint i = 0; a && i < a->maps->len; i++) {
		const struct umap *m = &g_array_index(a->maps, struct umap, i);

		if (m->u == u) {
			*base = m->base;
			return true;
		}
	}
	return false;
}

/*
 * The run-time pc of the placed site @s on a vCPU: @s's file at its base
 * in the running process, whose mappings are read if not known yet (the
 * code may have been translated in another process).  False if the
 * process does not map @s's file as far as osi can tell.
 */
static bool placed_pc(struct vstate *vs, const struct site *s, uint64_t *pc)
{
	uint64_t asid = current_asid(), base = 0;
	bool found;

	g_mutex_lock(&as_lock);
	if (vs->c_u == s->u && vs->c_asid == asid && vs->c_gen == as_gen) {
		*pc = s->pc + vs->c_base;
		g_mutex_unlock(&as_lock);
		return true;
	}
	found = ubin_base_locked(asid, s->u, &base);
	g_mutex_unlock(&as_lock);
	if (!found) {
		refresh_aspace(asid);
		g_mutex_lock(&as_lock);
		found = ubin_base_locked(asid, s->u, &base);
		g_mutex_unlock(&as_lock);
	}
	if (!found)
		return false;
	g_mutex_lock(&as_lock);
	vs->c_u = s->u;
	vs->c_asid = asid;
	vs->c_base = base;
	vs->c_gen = as_gen;
	g_mutex_unlock(&as_lock);
	*pc = s->pc + base;
	return true;
}

/*
 * A process that now runs in an address space dwarfp has read belongs to
 * another process (the page directory was freed and used again): forget
 * what was read, its mappings are read again at its first unknown pc.
 */
static void on_task_change(mh_cpu *cpu, const OsiThread *prev, const OsiThread *next)
{
	OsiProc *p;
	struct aspace *a;

	(void)prev;
	(void)next;
	if (!ubins || !ubins->len || !(p = get_current_process(cpu)))
		return;
	g_mutex_lock(&as_lock);
	a = p->asid ? g_hash_table_lookup(aspaces, &p->asid) : NULL;
	if (a && (a->pid != p->pid || a->create_time != p->create_time)) {
		g_hash_table_remove(aspaces, &p->asid);
		as_gen++;
	}
	g_mutex_unlock(&as_lock);
	free_osiproc(p);
}

/* Has @b a line at @addr (unbiased)? */
static bool has_line(const struct dw_binary *b, uint64_t addr)
{
	struct dw_line ln;

	return dw_line_at(b, addr, &ln);
}

/*
 * The binary whose code holds @pc (run-time), the address in the binary
 * and the binary's load bias there.
 */
static struct dw_binary *binary_at(uint64_t pc, uint64_t *addr, uint64_t *bias)
{
	struct umap m;
	int64_t slide;

	if (pc >= USER_TOP && kern_slide(&slide) &&
	    has_line(kern->b, pc - (uint64_t)slide)) {
		*addr = pc - (uint64_t)slide;
		*bias = (uint64_t)slide;
		return kern->b;
	}
	for (guint i = 0; bins && i < bins->len; i++) {
		struct dw_binary *b = g_ptr_array_index(bins, i);

		if (pc >= b->bias && has_line(b, pc - b->bias)) {
			*addr = pc - b->bias;
			*bias = b->bias;
			return b;
		}
	}
	if (!ubins)
		return NULL;
	m = umap_at(pc, true);
	if (m.u && pc >= m.base && has_line(m.u->b, pc - m.base)) {
		*addr = pc - m.base;
		*bias = m.base;
		return m.u->b;
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
	uint64_t a, bias;
	struct dw_binary *b = binary_at(pc, &a, &bias);
	struct dw_line ln = { 0 };
	const struct dw_func *f, *of;

	(void)cpu;
	if (!b || !info || !rc)
		return;
	dw_line_at(b, a, &ln);
	f = func_at(b, a, true);
	of = func_at(b, a, false);
	info->file_name = ln.file;
	info->line_number = ln.line;
	info->funct_name = f && f->name ? f->name : "??";
	info->funct_lowpc = of ? of->lo + bias : 0;
	*rc = 0;
}

static void iter_vars(struct dw_binary *b, const struct dw_func *f,
		      const GArray *vars, uint64_t a, uint64_t bias, liveVarCB cb)
{
	struct dw_guest g = { read_reg, read_mem, b, bias };

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
	uint64_t a, bias;
	struct dw_binary *b = binary_at(pc, &a, &bias);
	const struct dw_func *f;

	(void)cpu;
	if (!b || !(f = dw_func_at(b, a, false)))
		return;
	iter_vars(b, f, f->vars, a, bias, cb);
}

static void global_livevar_iter(mh_cpu *cpu, uint64_t pc, liveVarCB cb)
{
	uint64_t a, bias;
	struct dw_binary *b = binary_at(pc, &a, &bias);

	(void)cpu;
	if (b)
		iter_vars(b, NULL, b->globals, a, bias, cb);
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
	uint64_t pc = s->pc;

	if (asid_on) {
		uint64_t cr3 = 0;

		mh->reg_read(reg_cr3, &cr3, sizeof(cr3));
		if ((cr3 & ~0xfffull) != asid_val)
			return;
	}
	if (s->u && !placed_pc(vs, s, &pc))
		return;
	/* Instrumented only once the slide is known. */
	if (s->kern)
		pc += (uint64_t)kern->slide;
	if (s->sline) {
		const struct site *p = vs->last;

		if (!p || p->sline != s->sline || p->sfile != s->sfile) {
			/* The first line of a run has no line before it. */
			if (p)
				stpi_runcb_on_after_line_change(cpu, vs->last_pc, p->sfile,
								p->fn_name, p->sline);
			stpi_runcb_on_before_line_change(cpu, pc, s->sfile,
							 s->fn_name, s->sline);
		}
		vs->last = s;
		vs->last_pc = pc;
	}
	if (s->fn_start)
		stpi_runcb_on_fn_start(cpu, pc, s->fn_start->pp_file,
				       s->fn_start->name, s->fn_start->pp_line);
}

/* Is @s in a function function= names (each site is asked once, at translation)? */
static bool site_wanted(const struct site *s)
{
	const char *name = s->fn_start ? s->fn_start->name : s->outer_name;

	for (guint i = 0; fn_globs && i < fn_globs->len; i++)
		if (g_pattern_spec_match_string(g_ptr_array_index(fn_globs, i), name))
			return true;
	return !fn_globs;
}

static void translate(mh_tb *tb, void *opaque)
{
	size_t n = mh->tb_n_insns(tb);
	struct umap m = { 0 };
	bool refreshed = false;

	(void)opaque;
	if (slide_pending() && mh->tb_vaddr(tb) >= USER_TOP)
		observe_call(tb);
	for (size_t i = 0; i < n; i++) {
		mh_insn *insn = mh->tb_insn(tb, i);
		uint64_t pc = mh->insn_vaddr(insn);
		const struct site *s = site_at_any(pc);

		/* A block is read in the process that runs it: its mappings apply. */
		if (!s && ubins->len && pc < USER_TOP) {
			if (pc < m.lo || pc >= m.hi) {
				m = umap_at(pc, !refreshed);
				refreshed |= !m.hi;
			}
			if (m.u && pc >= m.base)
				s = site_in(m.u->sites, pc - m.base);
		}

		/* R_REGS: handlers may read variables, and asid= reads cr3. */
		if (s && site_wanted(s))
			mh->insn_exec_cb(insn, on_site, MH_CB_R_REGS, (void *)s);
	}
}

/* Imports osi (loaded from dir if not live) and handles on_task_change. */
static int osi_init(mh_module *self, const struct mh_api *api)
{
	const struct ubin *u = g_ptr_array_index(ubins, 0);

	get_current_process = api->import(self, OSI_MODULE, "get_current_process",
					  OSI_GET_CURRENT_PROCESS_SIG);
	get_mappings = api->import(self, OSI_MODULE, "get_mappings",
				   OSI_GET_MAPPINGS_SIG);
	free_osiproc = api->import(self, OSI_MODULE, "free_osiproc",
				   OSI_FREE_OSIPROC_SIG);
	free_osimodules = api->import(self, OSI_MODULE, "free_osimodules",
				      OSI_FREE_OSIMODULES_SIG);
	if (!get_current_process || !get_mappings || !free_osiproc ||
	    !free_osimodules || !reg_cr3) {
		api->log(self, MH_LOG_ERROR, "binary=%s is position-independent: "
			 "placing it where a process maps it needs osi and an OS "
			 "provider (load=osi_linux:dwarfp), or give its load bias "
			 "(binary=%s@0xBIAS)", u->b->path, u->b->path);
		return -ENOENT;
	}
	return api->ppp_register(self, OSI_MODULE, "on_task_change",
				 OSI_ON_TASK_CHANGE_SIG,
				 (void (*)(void))on_task_change);
}

/* -- hooks ------------------------------------------------------------------- */

/* function=GLOB, one a line (a list parameter), into fn_globs. */
static void read_fn_globs(mh_module *self, const struct mh_api *api)
{
	const char *spec = api->param_str(self, "function");
	g_auto(GStrv) v = spec && *spec ? g_strsplit(spec, "\n", -1) : NULL;

	g_clear_pointer(&fn_globs, g_ptr_array_unref);
	for (char **p = v; p && *p; p++) {
		if (!**p)
			continue;
		if (!fn_globs)
			fn_globs = g_ptr_array_new_with_free_func(
				(GDestroyNotify)g_pattern_spec_free);
		g_ptr_array_add(fn_globs, g_pattern_spec_new(*p));
	}
}

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
	read_fn_globs(self, api);
	for (unsigned int i = 0; i < G_N_ELEMENTS(reg_names); i++)
		regs[i] = api->reg_lookup(reg_names[i]);
	reg_cr3 = api->reg_lookup("cr3");
	if (ubins->len && (rc = osi_init(self, api)))
		return rc;
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
	g_clear_pointer(&fn_globs, g_ptr_array_unref);
	vstates = NULL;
}

/* After the pcs of the handoff: the kernel's slide, if it was found. */
struct slide_rec {
	uint64_t tag;
	int64_t slide;
};
#define SLIDE_TAG 0x44494c53524c534bull	/* "KSLRSLID" */

/*
 * The handoff across a reload: per vCPU, the pc of the line it is on (0:
 * none yet), so that the new version neither raises a second
 * on_before_line_change for that line nor loses the on_after_line_change
 * that closes it.  The new version looks the pc up in its own index; if
 * the binary changed and no line starts there, it starts afresh.  Then
 * the kernel's slide, when it was found at run time: the new version
 * could find it again only from blocks translated after the reload, and
 * would miss the kernel's lines until then.
 */
static int dwarfp_save_state(mh_module *self, void **data, size_t *len)
{
	unsigned int n = mh->num_vcpus();
	struct slide_rec rec = { SLIDE_TAG, 0 };
	bool slide = kern && kern->found && kern_slide(&rec.slide);
	uint64_t *pcs;

	(void)self;
	pcs = calloc((n ? n : 1) + 2, sizeof(*pcs));
	if (!pcs)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		const struct vstate *vs = mh->scoreboard_find(vstates, i);

		if (vs && vs->last)
			pcs[i] = vs->last_pc;
	}
	if (slide)
		memcpy(pcs + n, &rec, sizeof(rec));
	*data = pcs;
	*len = n * sizeof(*pcs) + (slide ? sizeof(rec) : 0);
	return 0;
}

static int dwarfp_restore_state(mh_module *self, const void *data, size_t len,
				const char *old_version)
{
	unsigned int n = mh->num_vcpus();
	struct slide_rec rec;

	(void)self;
	(void)old_version;
	/* An older version hands over the pcs only. */
	if (len >= n * sizeof(uint64_t) + sizeof(rec)) {
		memcpy(&rec, (const char *)data + n * sizeof(uint64_t), sizeof(rec));
		if (rec.tag == SLIDE_TAG && slide_pending())
			publish_slide(rec.slide);
	}
	for (unsigned int i = 0; i < n && (i + 1) * sizeof(uint64_t) <= len; i++) {
		struct vstate *vs = mh->scoreboard_find(vstates, i);
		const struct site *s;
		uint64_t pc;

		/* The blob carries no alignment promise. */
		memcpy(&pc, (const char *)data + i * sizeof(pc), sizeof(pc));
		s = pc ? site_at_any(pc) : NULL;

		if (vs && s && s->sline) {
			vs->last = s;
			vs->last_pc = pc;
		}
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
