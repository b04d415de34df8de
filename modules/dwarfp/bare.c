// SPDX-License-Identifier: MIT
/*
 * bare.c - the functions of a kernel image that its ELF symbol table
 * names and its DWARF does not: assembly (ret_from_fork, the entry
 * points, swap_pages), generated stubs (__ia32_sys_*, __bpf_trace_*),
 * functions whose DWARF subprogram has no address (GCC folded or cloned
 * the body).  addr2line and llvm-symbolizer fall back to the symbol
 * table there, and so does dwarfp (dwarfp.c, and tests/stpi/dwarfp-query
 * for the same answers without QEMU).
 */
#include <elf.h>

#include "dwarfp.h"
#include "symtab.h"

bool dw_is_kernel(const struct dw_binary *b)
{
	return b->machine == EM_X86_64 && b->rows->len &&
	       g_array_index(b->rows, struct dw_row, 0).addr >= USER_TOP;
}

/*
 * A symbol without a size inside a sized one is a label in it (addr2line
 * names the sized one); one outside runs to the next symbol.
 */
GArray *dw_bare_build(const struct dw_binary *b, const struct symtab *t)
{
	GArray *a = g_array_new(FALSE, TRUE, sizeof(struct dw_func));
	uint64_t addr, size, next, end = 0;
	const char *name;

	for (size_t i = 0; t && (name = symtab_symbol(t, i, &addr, &size)); i++) {
		const struct dw_row *r;
		struct dw_func f = { 0 };

		if (!size && addr < end)
			continue;
		end = MAX(end, addr + size);
		/* Innermost: the out-of-line lookup would read variables. */
		if (dw_func_at(b, addr, true))
			continue;
		if (!size)
			size = symtab_symbol(t, i + 1, &next, &(uint64_t){ 0 }) ?
			       next - addr : 1;
		r = dw_row_at(b, addr);
		f.name = name;
		f.lo = f.post_prologue = addr;
		f.hi = addr + size;
		f.pp_file = r && r->sfile ? dw_file(b, r->sfile) : "??";
		f.pp_line = r ? r->sline : 0;
		f.addr_size = 8;
		g_array_append_val(a, f);
	}
	return a;
}

const struct dw_func *dw_bare_at(const GArray *bare, uint64_t addr)
{
	guint lo = 0, hi = bare->len;
	const struct dw_func *f;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (g_array_index(bare, struct dw_func, mid).lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	f = &g_array_index(bare, struct dw_func, lo - 1);
	return addr < f->hi ? f : NULL;
}
