// SPDX-License-Identifier: MIT
/*
 * index.c - read one binary's DWARF with libdwarf (Debian's 20210528, the
 * pre-0.x API) into flat, sorted arrays: line rows, functions and their
 * address map, variables with their location expressions, globals.  The
 * CFI stays in libdwarf (dw_cfa() asks it at run time).
 *
 * Lookups are binary searches over arrays built once; nothing here is
 * changed after dw_open() returns.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dwarfp.h"

/* Everything the DIE walk of one CU needs. */
struct cu_ctx {
	struct dw_binary *b;
	Dwarf_Half version;
	Dwarf_Half addr_size;
	uint64_t base;			/* the CU's low_pc, base of DWARF 4 ranges */
};

static const char *intern(struct dw_binary *b, const char *s)
{
	return s ? g_string_chunk_insert_const(b->strs, s) : NULL;
}

static bool attr_udata(Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *v)
{
	Dwarf_Attribute a;
	Dwarf_Error err = NULL;
	bool ok;

	if (dwarf_attr(die, at, &a, &err) != DW_DLV_OK)
		return false;
	ok = dwarf_formudata(a, v, &err) == DW_DLV_OK;
	dwarf_dealloc_attribute(a);
	return ok;
}

/* The DIE that attribute @at of @die refers to (abstract_origin, type ...). */
static bool attr_ref(Dwarf_Debug dbg, Dwarf_Die die, Dwarf_Half at,
		     Dwarf_Die *out)
{
	Dwarf_Attribute a;
	Dwarf_Error err = NULL;
	Dwarf_Off off;
	Dwarf_Bool is_info = dwarf_get_die_infotypes_flag(die);
	int rc;

	if (dwarf_attr(die, at, &a, &err) != DW_DLV_OK)
		return false;
	rc = dwarf_global_formref(a, &off, &err);
	dwarf_dealloc_attribute(a);
	if (rc != DW_DLV_OK)
		return false;
	return dwarf_offdie_b(dbg, off, is_info, out, &err) == DW_DLV_OK;
}

/* A DIE's name, following abstract_origin and specification. */
static char *die_name(Dwarf_Debug dbg, Dwarf_Die die, int depth)
{
	Dwarf_Error err = NULL;
	Dwarf_Die other;
	char *name;

	if (dwarf_diename(die, &name, &err) == DW_DLV_OK)
		return name;	/* in the string section: no free */
	if (depth > 8)
		return NULL;
	if (attr_ref(dbg, die, DW_AT_abstract_origin, &other) ||
	    attr_ref(dbg, die, DW_AT_specification, &other)) {
		name = die_name(dbg, other, depth + 1);
		dwarf_dealloc_die(other);
		return name;
	}
	return NULL;
}

/* A C spelling of the type of @die ("int", "struct point *", ...). */
static void type_name(Dwarf_Debug dbg, Dwarf_Die die, GString *out, int depth)
{
	Dwarf_Die t;
	Dwarf_Half tag;
	Dwarf_Error err = NULL;
	char *name;

	if (depth > 16 || !attr_ref(dbg, die, DW_AT_type, &t)) {
		g_string_append(out, "void");
		return;
	}
	if (dwarf_tag(t, &tag, &err) != DW_DLV_OK)
		tag = 0;
	name = die_name(dbg, t, 0);
	switch (tag) {
	case DW_TAG_pointer_type:
		type_name(dbg, t, out, depth + 1);
		g_string_append(out, " *");
		break;
	case DW_TAG_const_type:
		g_string_append(out, "const ");
		type_name(dbg, t, out, depth + 1);
		break;
	case DW_TAG_volatile_type:
		g_string_append(out, "volatile ");
		type_name(dbg, t, out, depth + 1);
		break;
	case DW_TAG_array_type:
		type_name(dbg, t, out, depth + 1);
		g_string_append(out, "[]");
		break;
	case DW_TAG_structure_type:
		g_string_append_printf(out, "struct %s", name ? name : "<anon>");
		break;
	case DW_TAG_union_type:
		g_string_append_printf(out, "union %s", name ? name : "<anon>");
		break;
	case DW_TAG_enumeration_type:
		g_string_append_printf(out, "enum %s", name ? name : "<anon>");
		break;
	case DW_TAG_subroutine_type:
		g_string_append(out, "<function>");
		break;
	default:
		g_string_append(out, name ? name : "<unknown>");
		break;
	}
	dwarf_dealloc_die(t);
}

/* -- address ranges ------------------------------------------------------ */

static void add_range(GArray *r, uint64_t lo, uint64_t hi)
{
	if (hi > lo)
		g_array_append_val(r, ((struct dw_range){ lo, hi }));
}

/* The address ranges of @die: low_pc/high_pc or DW_AT_ranges. */
static GArray *die_ranges(struct cu_ctx *cu, Dwarf_Die die)
{
	GArray *r = g_array_new(FALSE, FALSE, sizeof(struct dw_range));
	Dwarf_Error err = NULL;
	Dwarf_Addr lo, hi;
	Dwarf_Half form;
	enum Dwarf_Form_Class cls;
	Dwarf_Attribute a;

	if (dwarf_lowpc(die, &lo, &err) == DW_DLV_OK &&
	    dwarf_highpc_b(die, &hi, &form, &cls, &err) == DW_DLV_OK) {
		if (cls == DW_FORM_CLASS_CONSTANT)
			hi += lo;
		add_range(r, lo, hi);
		return r;
	}
	if (dwarf_attr(die, DW_AT_ranges, &a, &err) != DW_DLV_OK)
		return r;
	if (dwarf_whatform(a, &form, &err) != DW_DLV_OK)
		goto out;
	if (cu->version >= 5) {
		Dwarf_Unsigned v = 0, n = 0, goff;
		Dwarf_Rnglists_Head head;

		if (form == DW_FORM_rnglistx) {
			if (dwarf_formudata(a, &v, &err) != DW_DLV_OK)
				goto out;
		} else {
			Dwarf_Off off;

			if (dwarf_global_formref(a, &off, &err) != DW_DLV_OK)
				goto out;
			v = off;
		}
		if (dwarf_rnglists_get_rle_head(a, form, v, &head, &n, &goff,
						&err) != DW_DLV_OK)
			goto out;
		for (Dwarf_Unsigned i = 0; i < n; i++) {
			unsigned len, rle;
			Dwarf_Unsigned raw1, raw2, c1, c2;
			Dwarf_Bool unavail;

			if (dwarf_get_rnglists_entry_fields_a(head, i, &len, &rle,
							      &raw1, &raw2, &unavail,
							      &c1, &c2, &err) != DW_DLV_OK)
				break;
			if (rle == DW_RLE_end_of_list || rle == DW_RLE_base_address ||
			    rle == DW_RLE_base_addressx || unavail)
				continue;
			add_range(r, c1, c2);
		}
		dwarf_dealloc_rnglists_head(head);
	} else {
		Dwarf_Off off, real;
		Dwarf_Ranges *rb;
		Dwarf_Signed n;
		Dwarf_Unsigned bytes;
		uint64_t base = cu->base;

		if (dwarf_global_formref(a, &off, &err) != DW_DLV_OK)
			goto out;
		if (dwarf_get_ranges_b(cu->b->dbg, off, die, &real, &rb, &n, &bytes,
				       &err) != DW_DLV_OK)
			goto out;
		for (Dwarf_Signed i = 0; i < n; i++) {
			if (rb[i].dwr_type == DW_RANGES_ADDRESS_SELECTION)
				base = rb[i].dwr_addr2;
			else if (rb[i].dwr_type == DW_RANGES_ENTRY)
				add_range(r, base + rb[i].dwr_addr1,
					  base + rb[i].dwr_addr2);
		}
		dwarf_ranges_dealloc(cu->b->dbg, rb, n);
	}
out:
	dwarf_dealloc_attribute(a);
	return r;
}

/* -- locations ----------------------------------------------------------- */

/* Read attribute @at of @die (an exprloc or a location list) into @loc. */
static bool read_loc(Dwarf_Die die, Dwarf_Half at, struct dw_loc *loc)
{
	Dwarf_Attribute a;
	Dwarf_Error err = NULL;
	Dwarf_Loc_Head_c head;
	Dwarf_Unsigned count;
	unsigned int kind;
	GArray *es;

	memset(loc, 0, sizeof(*loc));
	if (dwarf_attr(die, at, &a, &err) != DW_DLV_OK)
		return false;
	if (dwarf_get_loclist_c(a, &head, &count, &err) != DW_DLV_OK) {
		dwarf_dealloc_attribute(a);
		return false;
	}
	if (dwarf_get_loclist_head_kind(head, &kind, &err) != DW_DLV_OK)
		kind = DW_LKIND_unknown;
	loc->whole = kind == DW_LKIND_expression;
	es = g_array_new(FALSE, TRUE, sizeof(struct dw_locexpr));
	for (Dwarf_Unsigned i = 0; i < count; i++) {
		Dwarf_Small lle, src;
		Dwarf_Unsigned rawlo, rawhi, nops, eoff, doff;
		Dwarf_Bool unavail;
		Dwarf_Addr lo, hi;
		Dwarf_Locdesc_c desc;
		struct dw_locexpr e = { 0 };

		if (dwarf_get_locdesc_entry_d(head, i, &lle, &rawlo, &rawhi, &unavail,
					      &lo, &hi, &nops, &desc, &src, &eoff,
					      &doff, &err) != DW_DLV_OK)
			break;
		if (!loc->whole && (unavail || lle == DW_LLE_end_of_list ||
				    lle == DW_LLE_base_address ||
				    lle == DW_LLE_base_addressx || hi <= lo))
			continue;
		e.lo = lo;
		e.hi = hi;
		e.n_ops = nops;
		e.ops = g_new0(struct dw_op, nops ? nops : 1);
		for (Dwarf_Unsigned j = 0; j < nops; j++) {
			Dwarf_Small atom;
			Dwarf_Unsigned o1, o2, o3, br;

			if (dwarf_get_location_op_value_c(desc, j, &atom, &o1, &o2, &o3,
							  &br, &err) != DW_DLV_OK) {
				e.n_ops = j;
				break;
			}
			e.ops[j].atom = atom;
			e.ops[j].op1 = o1;
			e.ops[j].op2 = o2;
			/*
			 * An implicit value's block is a pointer into the
			 * section: keep its bytes (up to 8) instead.
			 */
			if (atom == DW_OP_implicit_value) {
				uint64_t v = 0;

				if (o2 && o1 <= 8)
					memcpy(&v, (const void *)(uintptr_t)o2, o1);
				e.ops[j].op2 = v;
			}
		}
		g_array_append_val(es, e);
	}
	dwarf_loc_head_c_dealloc(head);
	dwarf_dealloc_attribute(a);
	loc->n = es->len;
	loc->e = (struct dw_locexpr *)g_array_free(es, FALSE);
	return loc->n > 0;
}

static void free_loc(struct dw_loc *loc)
{
	for (uint32_t i = 0; i < loc->n; i++)
		g_free(loc->e[i].ops);
	g_free(loc->e);
}

/* A variable's location, or its DW_AT_const_value. */
static bool read_var_loc(Dwarf_Die die, struct dw_loc *loc)
{
	Dwarf_Attribute a;
	Dwarf_Error err = NULL;

	if (read_loc(die, DW_AT_location, loc))
		return true;
	if (dwarf_attr(die, DW_AT_const_value, &a, &err) == DW_DLV_OK) {
		Dwarf_Signed s;
		Dwarf_Unsigned u;

		memset(loc, 0, sizeof(*loc));
		if (dwarf_formsdata(a, &s, &err) == DW_DLV_OK) {
			loc->is_const = true;
			loc->value = (uint64_t)s;
		} else if (dwarf_formudata(a, &u, &err) == DW_DLV_OK) {
			loc->is_const = true;
			loc->value = u;
		}
		dwarf_dealloc_attribute(a);
		return loc->is_const;
	}
	return false;
}

/* -- the DIE walk -------------------------------------------------------- */

static void add_var(struct cu_ctx *cu, Dwarf_Die die, GArray *to,
		    const GArray *scope, bool is_param)
{
	struct dw_var v = { 0 };
	g_autoptr(GString) ty = g_string_new(NULL);
	Dwarf_Die typed = die, origin = NULL;

	if (!read_var_loc(die, &v.loc))
		return;		/* optimized out everywhere, or a declaration */
	v.name = intern(cu->b, die_name(cu->b->dbg, die, 0));
	if (!v.name)
		v.name = "<anon>";
	/* In an inlined or concrete instance the type is on the origin. */
	if (attr_ref(cu->b->dbg, die, DW_AT_abstract_origin, &origin))
		typed = origin;
	type_name(cu->b->dbg, typed, ty, 0);
	if (origin)
		dwarf_dealloc_die(origin);
	v.type = intern(cu->b, ty->str);
	v.is_param = is_param;
	if (scope && scope->len) {
		v.n_scope = scope->len;
		v.scope = g_memdup2(scope->data, scope->len * sizeof(struct dw_range));
	}
	g_array_append_val(to, v);
}

static void walk(struct cu_ctx *cu, Dwarf_Die die, struct dw_func *fn,
		 const GArray *scope, int depth);

static struct dw_func *add_func(struct cu_ctx *cu, Dwarf_Die die,
				struct dw_func *outer, bool inlined)
{
	GArray *r = die_ranges(cu, die);
	struct dw_func *f;
	Dwarf_Addr entry;
	Dwarf_Error err = NULL;

	if (!r->len) {
		g_array_free(r, TRUE);
		return NULL;
	}
	f = g_new0(struct dw_func, 1);
	f->name = intern(cu->b, die_name(cu->b->dbg, die, 0));
	f->inlined = inlined;
	f->outer = outer;
	f->addr_size = cu->addr_size;
	f->n_ranges = r->len;
	f->ranges = (struct dw_range *)g_array_free(r, FALSE);
	/* The entry is low_pc (or entry_pc); the range holding it bounds the body. */
	if (dwarf_lowpc(die, &entry, &err) != DW_DLV_OK)
		entry = f->ranges[0].lo;
	if (inlined) {
		Dwarf_Unsigned e;

		if (attr_udata(die, DW_AT_entry_pc, &e))
			entry = e;
	}
	f->lo = f->ranges[0].lo;
	f->hi = f->ranges[0].hi;
	for (uint32_t i = 0; i < f->n_ranges; i++) {
		if (entry >= f->ranges[i].lo && entry < f->ranges[i].hi) {
			f->lo = f->ranges[i].lo;
			f->hi = f->ranges[i].hi;
		}
	}
	if (!inlined)
		read_loc(die, DW_AT_frame_base, &f->frame_base);
	f->vars = g_array_new(FALSE, FALSE, sizeof(struct dw_var));
	g_ptr_array_add(cu->b->funcs, f);
	return f;
}

static void walk_children(struct cu_ctx *cu, Dwarf_Die die, struct dw_func *fn,
			  const GArray *scope, int depth)
{
	Dwarf_Die child, next;
	Dwarf_Error err = NULL;

	if (dwarf_child(die, &child, &err) != DW_DLV_OK)
		return;
	for (;;) {
		walk(cu, child, fn, scope, depth + 1);
		if (dwarf_siblingof_b(cu->b->dbg, child, TRUE, &next, &err) != DW_DLV_OK)
			break;
		dwarf_dealloc_die(child);
		child = next;
	}
	dwarf_dealloc_die(child);
}

static void walk(struct cu_ctx *cu, Dwarf_Die die, struct dw_func *fn,
		 const GArray *scope, int depth)
{
	Dwarf_Half tag;
	Dwarf_Error err = NULL;
	struct dw_func *f;

	if (depth > 64 || dwarf_tag(die, &tag, &err) != DW_DLV_OK)
		return;
	switch (tag) {
	case DW_TAG_subprogram:
		f = add_func(cu, die, NULL, false);
		if (f)
			walk_children(cu, die, f, NULL, depth);
		break;
	case DW_TAG_inlined_subroutine:
		/* Its variables belong to the inline instance: not the caller's. */
		f = add_func(cu, die, fn ? (fn->outer ? fn->outer : fn) : NULL, true);
		if (f)
			walk_children(cu, die, f, NULL, depth);
		break;
	case DW_TAG_lexical_block:
		if (fn) {
			GArray *r = die_ranges(cu, die);

			walk_children(cu, die, fn, r->len ? r : scope, depth);
			g_array_free(r, TRUE);
		}
		break;
	case DW_TAG_formal_parameter:
	case DW_TAG_variable:
		if (fn && !fn->inlined)
			add_var(cu, die, fn->vars, scope,
				tag == DW_TAG_formal_parameter);
		else if (!fn && tag == DW_TAG_variable && depth == 1)
			add_var(cu, die, cu->b->globals, NULL, false);
		break;
	default:
		break;
	}
}

/* -- line tables --------------------------------------------------------- */

static void read_lines(struct cu_ctx *cu, Dwarf_Die cu_die)
{
	Dwarf_Error err = NULL;
	Dwarf_Unsigned version;
	Dwarf_Small count;
	Dwarf_Line_Context ctx;
	Dwarf_Line *lines;
	Dwarf_Signed n;

	if (dwarf_srclines_b(cu_die, &version, &count, &ctx, &err) != DW_DLV_OK)
		return;
	if (dwarf_srclines_from_linecontext(ctx, &lines, &n, &err) == DW_DLV_OK) {
		for (Dwarf_Signed i = 0; i < n; i++) {
			struct dw_row row = { 0 };
			Dwarf_Addr addr;
			Dwarf_Unsigned lno;
			Dwarf_Bool stmt, end;
			char *src;

			if (dwarf_lineaddr(lines[i], &addr, &err) != DW_DLV_OK ||
			    dwarf_lineno(lines[i], &lno, &err) != DW_DLV_OK ||
			    dwarf_linebeginstatement(lines[i], &stmt, &err) != DW_DLV_OK ||
			    dwarf_lineendsequence(lines[i], &end, &err) != DW_DLV_OK)
				continue;
			row.addr = addr;
			row.line = lno;
			row.is_stmt = stmt;
			row.end = end;
			if (dwarf_linesrc(lines[i], &src, &err) == DW_DLV_OK) {
				row.file = intern(cu->b, src);
				dwarf_dealloc(cu->b->dbg, src, DW_DLA_STRING);
			}
			row.sfile = row.file;
			row.sline = row.line;
			g_array_append_val(cu->b->rows, row);
		}
	}
	dwarf_srclines_dealloc_b(ctx);
}

/* -- building the maps --------------------------------------------------- */

static int row_cmp(const void *a, const void *b)
{
	const struct dw_row *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return 0;
}

/*
 * Sort the rows (stable: within an address the table's order stays) and
 * keep one per address: the last, as binutils does, except that an
 * end_sequence never hides a row that starts another sequence there.
 */
static void sort_rows(struct dw_binary *b)
{
	GArray *r = b->rows;
	guint o = 0;

	g_array_sort(r, row_cmp);	/* g_array_sort is a stable merge sort */
	for (guint i = 0; i < r->len; i++) {
		struct dw_row *cur = &g_array_index(r, struct dw_row, i);

		if (o && g_array_index(r, struct dw_row, o - 1).addr == cur->addr) {
			struct dw_row *prev = &g_array_index(r, struct dw_row, o - 1);

			struct dw_row keep = *prev;

			if (cur->end && !prev->end)
				continue;
			*prev = *cur;
			if (!cur->is_stmt && keep.is_stmt && !keep.end) {
				prev->is_stmt = 1;
				prev->sfile = keep.sfile;
				prev->sline = keep.sline;
			}
			continue;
		}
		g_array_index(r, struct dw_row, o++) = *cur;
	}
	g_array_set_size(r, o);
}

struct ival {
	uint64_t lo, hi;
	struct dw_func *fn;
	uint32_t order;
};

static int ival_cmp(const void *a, const void *b)
{
	const struct ival *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->hi != y->hi)
		return x->hi > y->hi ? -1 : 1;	/* outer first */
	return x->order < y->order ? -1 : x->order > y->order;
}

static void emit(GArray *segs, uint64_t lo, uint64_t hi, struct dw_func *fn)
{
	if (hi <= lo)
		return;
	if (segs->len) {
		struct dw_seg *last = &g_array_index(segs, struct dw_seg, segs->len - 1);

		if (last->fn == fn && last->hi == lo) {
			last->hi = hi;
			return;
		}
	}
	g_array_append_val(segs, ((struct dw_seg){ lo, hi, fn }));
}

/*
 * Flatten nested ranges into disjoint segments, each with its innermost
 * function: a sweep over the ranges sorted by start, outer first, with
 * the open ranges on a stack.
 */
static GArray *build_segs(struct dw_binary *b, bool innermost)
{
	GArray *iv = g_array_new(FALSE, FALSE, sizeof(struct ival));
	GArray *segs = g_array_new(FALSE, FALSE, sizeof(struct dw_seg));
	GArray *stack = g_array_new(FALSE, FALSE, sizeof(struct ival));
	uint64_t cur = 0;

	for (guint i = 0; i < b->funcs->len; i++) {
		struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (!innermost && f->inlined)
			continue;
		for (uint32_t j = 0; j < f->n_ranges; j++)
			g_array_append_val(iv, ((struct ival){ f->ranges[j].lo,
				f->ranges[j].hi, f, i }));
	}
	g_array_sort(iv, ival_cmp);
	for (guint i = 0; i <= iv->len; i++) {
		struct ival in = i < iv->len ? g_array_index(iv, struct ival, i) :
			(struct ival){ UINT64_MAX, UINT64_MAX, NULL, 0 };

		while (stack->len) {
			struct ival *top = &g_array_index(stack, struct ival, stack->len - 1);

			if (top->hi > in.lo)
				break;
			emit(segs, cur, top->hi, top->fn);
			cur = MAX(cur, top->hi);
			g_array_set_size(stack, stack->len - 1);
		}
		if (!in.fn)
			break;
		if (stack->len) {
			struct ival *top = &g_array_index(stack, struct ival, stack->len - 1);

			emit(segs, cur, in.lo, top->fn);
			if (in.hi > top->hi)	/* badly nested: clip */
				in.hi = top->hi;
		}
		cur = in.lo;
		g_array_append_val(stack, in);
	}
	g_array_free(stack, TRUE);
	g_array_free(iv, TRUE);
	return segs;
}

enum { PE_PROLOGUE_END = 1, PE_MULTI = 2 };

static void mark(GHashTable *pe, uint64_t addr, uintptr_t flag)
{
	uintptr_t old = (uintptr_t)g_hash_table_lookup(pe, &addr);
	uint64_t *k = g_new(uint64_t, 1);

	*k = addr;
	g_hash_table_replace(pe, k, (void *)(old | flag));
}

/*
 * The address after the prologue: the first row in the function flagged
 * prologue_end if the compiler says (clang does), else the second row of
 * the function (the first with an address above the entry), except that
 * a function whose entry starts two rows has an empty prologue.  This is
 * what gdb's skip_prologue_using_sal finds for GCC's code ("break FUNC").
 */
static void find_post_prologue(struct dw_binary *b, struct dw_func *f,
			       GHashTable *pe)
{
	const struct dw_row *rows = (const struct dw_row *)b->rows->data;
	guint n = b->rows->len, lo = 0, hi = n;
	const struct dw_row *pick = NULL;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;

		if (rows[mid].addr < f->lo)
			lo = mid + 1;
		else
			hi = mid;
	}
	/*
	 * GCC at -O1 and above describes an empty prologue with several rows
	 * at the entry (its "views"): the body starts at the entry, as gdb's
	 * skip_prologue_using_sal concludes from the same rows.
	 */
	if ((uintptr_t)g_hash_table_lookup(pe, &f->lo) & PE_MULTI)
		lo = n;
	for (guint i = lo; i < n && rows[i].addr < f->hi; i++) {
		if (rows[i].end || !rows[i].line)
			continue;
		if ((uintptr_t)g_hash_table_lookup(pe, &rows[i].addr) & PE_PROLOGUE_END) {
			pick = &rows[i];
			break;
		}
		if (!pick && rows[i].addr > f->lo && rows[i].is_stmt)
			pick = &rows[i];
	}
	if (!pick) {
		const struct dw_row *r = dw_line_at(b, f->lo);

		f->post_prologue = f->lo;
		f->pp_file = r ? r->sfile : NULL;
		f->pp_line = r ? r->sline : 0;
		return;
	}
	f->post_prologue = pick->addr;
	f->pp_file = pick->sfile;
	f->pp_line = pick->sline;
}

/*
 * Addresses of rows flagged prologue_end, and addresses that start two
 * rows with a line (PE_MULTI), read in a second pass over the table.
 */
static void read_prologue_ends(Dwarf_Debug dbg, Dwarf_Die cu_die, GHashTable *pe)
{
	Dwarf_Error err = NULL;
	Dwarf_Unsigned version;
	Dwarf_Small count;
	Dwarf_Line_Context ctx;
	Dwarf_Line *lines;
	Dwarf_Signed n;

	(void)dbg;
	if (dwarf_srclines_b(cu_die, &version, &count, &ctx, &err) != DW_DLV_OK)
		return;
	if (dwarf_srclines_from_linecontext(ctx, &lines, &n, &err) == DW_DLV_OK) {
		uint64_t prev_addr = 0;
		bool prev_ok = false;

		for (Dwarf_Signed i = 0; i < n; i++) {
			Dwarf_Bool pend, ebeg;
			Dwarf_Unsigned isa, disc;
			Dwarf_Addr addr;

			Dwarf_Unsigned lno;
			Dwarf_Bool end;

			if (dwarf_lineaddr(lines[i], &addr, &err) != DW_DLV_OK ||
			    dwarf_lineno(lines[i], &lno, &err) != DW_DLV_OK ||
			    dwarf_lineendsequence(lines[i], &end, &err) != DW_DLV_OK)
				continue;
			if (dwarf_prologue_end_etc(lines[i], &pend, &ebeg, &isa, &disc,
						   &err) == DW_DLV_OK && pend)
				mark(pe, addr, PE_PROLOGUE_END);
			/* a second row with a line at the same address */
			if (i && !end && lno && prev_ok && prev_addr == addr)
				mark(pe, addr, PE_MULTI);
			prev_ok = !end && lno;
			prev_addr = addr;
		}
	}
	dwarf_srclines_dealloc_b(ctx);
}

/* -- open and close ------------------------------------------------------- */

static void free_var(struct dw_var *v)
{
	g_free(v->scope);
	free_loc(&v->loc);
}

static void free_func(void *p)
{
	struct dw_func *f = p;

	for (guint i = 0; i < f->vars->len; i++)
		free_var(&g_array_index(f->vars, struct dw_var, i));
	g_array_free(f->vars, TRUE);
	free_loc(&f->frame_base);
	g_free(f->ranges);
	g_free(f);
}

struct dw_binary *dw_open(const char *path, uint64_t bias, char **err)
{
	struct dw_binary *b = g_new0(struct dw_binary, 1);
	Dwarf_Error derr = NULL;
	GHashTable *pe = g_hash_table_new_full(g_int64_hash, g_int64_equal,
					       g_free, NULL);
	int rc;

	b->path = g_strdup(path);
	b->bias = bias;
	g_mutex_init(&b->cfi_lock);
	b->strs = g_string_chunk_new(4096);
	b->rows = g_array_new(FALSE, FALSE, sizeof(struct dw_row));
	b->funcs = g_ptr_array_new_with_free_func(free_func);
	b->globals = g_array_new(FALSE, FALSE, sizeof(struct dw_var));

	rc = dwarf_init_path(path, NULL, 0, DW_DLC_READ, DW_GROUPNUMBER_ANY,
			     NULL, NULL, &b->dbg, NULL, 0, NULL, &derr);
	if (rc != DW_DLV_OK) {
		*err = g_strdup_printf("%s: %s", path, rc == DW_DLV_NO_ENTRY ?
				       "no DWARF debug information" :
				       dwarf_errmsg(derr));
		if (rc == DW_DLV_ERROR)
			dwarf_dealloc_error(NULL, derr);
		b->dbg = NULL;
		goto fail;
	}

	for (;;) {
		Dwarf_Unsigned hlen, abbrev_off, typeoff, next;
		Dwarf_Half version, addr_size, len_size, ext_size, hdr_type;
		Dwarf_Off abbrev;
		Dwarf_Sig8 sig;
		Dwarf_Die cu_die = NULL;
		struct cu_ctx cu = { .b = b };
		Dwarf_Addr base;

		(void)abbrev_off;
		rc = dwarf_next_cu_header_d(b->dbg, TRUE, &hlen, &version, &abbrev,
					    &addr_size, &len_size, &ext_size, &sig,
					    &typeoff, &next, &hdr_type, &derr);
		if (rc == DW_DLV_NO_ENTRY)
			break;
		if (rc != DW_DLV_OK) {
			*err = g_strdup_printf("%s: %s", path, dwarf_errmsg(derr));
			goto fail;
		}
		if (dwarf_siblingof_b(b->dbg, NULL, TRUE, &cu_die, &derr) != DW_DLV_OK)
			continue;
		cu.version = version;
		cu.addr_size = addr_size;
		if (dwarf_lowpc(cu_die, &base, &derr) == DW_DLV_OK)
			cu.base = base;
		read_lines(&cu, cu_die);
		read_prologue_ends(b->dbg, cu_die, pe);
		{
			guint before = b->funcs->len;

			walk_children(&cu, cu_die, NULL, NULL, 0);
			if (!b->addr_size && b->funcs->len > before)
				b->addr_size = addr_size;
		}
		dwarf_dealloc_die(cu_die);
	}
	if (!b->addr_size)
		b->addr_size = 4;

	sort_rows(b);
	b->segs = build_segs(b, true);
	b->osegs = build_segs(b, false);
	for (guint i = 0; i < b->funcs->len; i++) {
		struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (!f->inlined)
			find_post_prologue(b, f, pe);
	}
	g_hash_table_destroy(pe);

	/* The CFI, for DW_OP_call_frame_cfa: .debug_frame, else .eh_frame. */
	if (dwarf_get_fde_list(b->dbg, &b->cies, &b->n_cies, &b->fdes, &b->n_fdes,
			       &derr) != DW_DLV_OK &&
	    dwarf_get_fde_list_eh(b->dbg, &b->cies, &b->n_cies, &b->fdes,
				  &b->n_fdes, &derr) != DW_DLV_OK) {
		b->cies = NULL;
		b->fdes = NULL;
	}
	return b;

fail:
	g_hash_table_destroy(pe);
	dw_close(b);
	return NULL;
}

void dw_close(struct dw_binary *b)
{
	if (!b)
		return;
	if (b->dbg) {
		if (b->fdes)
			dwarf_fde_cie_list_dealloc(b->dbg, b->cies, b->n_cies,
						   b->fdes, b->n_fdes);
		dwarf_finish(b->dbg, NULL);
	}
	if (b->globals) {
		for (guint i = 0; i < b->globals->len; i++)
			free_var(&g_array_index(b->globals, struct dw_var, i));
		g_array_free(b->globals, TRUE);
	}
	if (b->funcs)
		g_ptr_array_free(b->funcs, TRUE);
	if (b->segs)
		g_array_free(b->segs, TRUE);
	if (b->osegs)
		g_array_free(b->osegs, TRUE);
	if (b->rows)
		g_array_free(b->rows, TRUE);
	if (b->strs)
		g_string_chunk_free(b->strs);
	g_mutex_clear(&b->cfi_lock);
	g_free(b->path);
	g_free(b);
}

/* -- lookups ------------------------------------------------------------- */

const struct dw_row *dw_line_at(const struct dw_binary *b, uint64_t addr)
{
	const struct dw_row *rows = (const struct dw_row *)b->rows->data;
	size_t lo = 0, hi = b->rows->len;

	/* The last row at or below addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || rows[lo - 1].end)
		return NULL;
	return &rows[lo - 1];
}

const struct dw_func *dw_func_at(const struct dw_binary *b, uint64_t addr,
				 bool innermost)
{
	const GArray *a = innermost ? b->segs : b->osegs;
	const struct dw_seg *s = (const struct dw_seg *)a->data;
	size_t lo = 0, hi = a->len;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || addr >= s[lo - 1].hi)
		return NULL;
	return s[lo - 1].fn;
}

bool dw_var_in_scope(const struct dw_var *var, uint64_t addr)
{
	if (!var->n_scope)
		return true;
	for (uint32_t i = 0; i < var->n_scope; i++)
		if (addr >= var->scope[i].lo && addr < var->scope[i].hi)
			return true;
	return false;
}
