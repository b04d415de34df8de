// SPDX-License-Identifier: MIT
/*
 * index.c - read one binary's DWARF with libdwarf (Debian's 20210528, the
 * pre-0.x API) into flat, sorted arrays: line rows, functions and their
 * address map, variables with their location expressions, globals.  The
 * CFI stays in libdwarf (dw_cfa() asks it at run time).
 *
 * Lookups search a sorted array of addresses through a bucket table (see
 * struct dw_amap).  After dw_open() returns, only the variables of
 * functions change: they are read late, a CU at a time (dw_read_vars()).
 *
 * dw_open() is on the path of every dwarfp load, so it reads each line
 * table once, asks libdwarf for a file's name once per CU rather than once
 * per row, and spells each type and each abstract origin once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dwarfp.h"

/*
 * Address -> index map over a sorted array of distinct addresses: the
 * span from the first address is cut into 2^shift-byte buckets, and
 * @bucket[i] is the index of the first address at or above bucket i.  A
 * lookup reads one bucket pair and searches the few addresses between.
 * The addresses are kept as 32-bit offsets from the first when the span
 * allows (it always does for one binary's code): with the buckets, that
 * is 5 bytes an address, so a map of 200000 rows stays in a 1 MiB cache.
 */
struct dw_amap {
	uint32_t *off;			/* keys - base, when !wide */
	uint64_t *keys;			/* when wide */
	uint32_t *bucket;		/* n_buckets + 1 entries */
	uint64_t base;			/* the first address */
	uint32_t n, n_buckets;
	unsigned int shift;
	bool wide;
};

/*
 * A compile unit, for reading its functions' variables on the first
 * question about one of them (dw_func_at(..., false)).  Functions and
 * globals are read by dw_open(); locals and parameters (their location
 * lists are most of the DIE work) only for the CUs someone asks about.
 */
struct dw_cu {
	Dwarf_Off die_off;
	Dwarf_Half version, addr_size;
	uint64_t base;			/* the CU's low_pc, base of DWARF 4 ranges */
	guint first_func;		/* its functions in b->funcs ... */
	GArray *func_offs;		/* ... and their DIEs' offsets, in order */
	gint vars_read;			/* atomic; set under b->cfi_lock */
};

/* What the late variable reads keep from dw_open(). */
struct dw_late {
	GPtrArray *cus;			/* struct dw_cu *, owned */
	GHashTable *types;		/* type DIE offset -> C spelling */
	GHashTable *origins;		/* origin DIE offset -> struct origin */
};

/* What dw_open() keeps while it reads; freed before it returns. */
struct build {
	struct dw_binary *b;
	GArray *raw;			/* struct raw_row, in table order */
	GArray *seqs;			/* struct raw_seq */
	GPtrArray *files;		/* the current CU's file names, by number */
	uint8_t *pflags;		/* PF_* of b->rows[i] */
};

/* Everything the DIE walk of one CU needs. */
struct cu_ctx {
	struct dw_binary *b;
	struct build *bd;		/* NULL when reading variables late */
	struct dw_cu *rec;
	guint next_func;		/* late: the next of rec's functions */
	uint64_t base;
	Dwarf_Half version;
	Dwarf_Half addr_size;
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

/* The offset of the DIE that attribute @at of @die refers to. */
static bool attr_ref_off(Dwarf_Die die, Dwarf_Half at, Dwarf_Off *off)
{
	Dwarf_Attribute a;
	Dwarf_Error err = NULL;
	int rc;

	if (dwarf_attr(die, at, &a, &err) != DW_DLV_OK)
		return false;
	rc = dwarf_global_formref(a, off, &err);
	dwarf_dealloc_attribute(a);
	return rc == DW_DLV_OK;
}

/* The DIE that attribute @at of @die refers to (abstract_origin, type ...). */
static bool attr_ref(Dwarf_Debug dbg, Dwarf_Die die, Dwarf_Half at,
		     Dwarf_Die *out)
{
	Dwarf_Error err = NULL;
	Dwarf_Off off;

	if (!attr_ref_off(die, at, &off))
		return false;
	return dwarf_offdie_b(dbg, off, dwarf_get_die_infotypes_flag(die), out,
			      &err) == DW_DLV_OK;
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

static const char *type_of(struct cu_ctx *cu, Dwarf_Die die, int depth);

/*
 * A C spelling of the type DIE at @off ("int", "struct point *", ...),
 * interned and remembered: a binary names few types many times.
 */
static const char *type_at(struct cu_ctx *cu, Dwarf_Off off, Dwarf_Bool is_info,
			   int depth)
{
	Dwarf_Debug dbg = cu->b->dbg;
	g_autoptr(GString) out = NULL;
	Dwarf_Error err = NULL;
	const char *known;
	Dwarf_Half tag;
	Dwarf_Die t;
	char *name;

	known = g_hash_table_lookup(cu->b->late->types, GSIZE_TO_POINTER(off));
	if (known)
		return known;
	if (depth > 16 || dwarf_offdie_b(dbg, off, is_info, &t, &err) != DW_DLV_OK)
		return "void";
	if (dwarf_tag(t, &tag, &err) != DW_DLV_OK)
		tag = 0;
	name = die_name(dbg, t, 0);
	out = g_string_new(NULL);
	switch (tag) {
	case DW_TAG_pointer_type:
		g_string_append(out, type_of(cu, t, depth + 1));
		g_string_append(out, " *");
		break;
	case DW_TAG_const_type:
		g_string_append(out, "const ");
		g_string_append(out, type_of(cu, t, depth + 1));
		break;
	case DW_TAG_volatile_type:
		g_string_append(out, "volatile ");
		g_string_append(out, type_of(cu, t, depth + 1));
		break;
	case DW_TAG_array_type:
		g_string_append(out, type_of(cu, t, depth + 1));
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
	known = intern(cu->b, out->str);
	/* Not below the depth limit: a cut-short spelling is not the type's. */
	if (depth == 0)
		g_hash_table_insert(cu->b->late->types, GSIZE_TO_POINTER(off),
				    (void *)known);
	return known;
}

/* The spelling of @die's DW_AT_type; "void" without one. */
static const char *type_of(struct cu_ctx *cu, Dwarf_Die die, int depth)
{
	Dwarf_Off off;

	if (!attr_ref_off(die, DW_AT_type, &off))
		return "void";
	return type_at(cu, off, dwarf_get_die_infotypes_flag(die), depth);
}

/*
 * The name and type of the DIE that @die is an instance of (its abstract
 * origin) or the definition of (its specification), read once for all.
 */
struct origin {
	const char *name;
	const char *type;
};

static const struct origin *origin_of(struct cu_ctx *cu, Dwarf_Die die)
{
	struct origin *o;
	Dwarf_Error err = NULL;
	Dwarf_Off off;
	Dwarf_Die od;

	if (!attr_ref_off(die, DW_AT_abstract_origin, &off) &&
	    !attr_ref_off(die, DW_AT_specification, &off))
		return NULL;
	o = g_hash_table_lookup(cu->b->late->origins, GSIZE_TO_POINTER(off));
	if (o)
		return o;
	if (dwarf_offdie_b(cu->b->dbg, off, dwarf_get_die_infotypes_flag(die), &od,
			   &err) != DW_DLV_OK)
		return NULL;
	o = g_new(struct origin, 1);
	o->name = intern(cu->b, die_name(cu->b->dbg, od, 1));
	o->type = type_of(cu, od, 0);
	dwarf_dealloc_die(od);
	g_hash_table_insert(cu->b->late->origins, GSIZE_TO_POINTER(off), o);
	return o;
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

/* The ranges a variable is visible in; none: the whole function. */
struct scope {
	const struct dw_range *r;
	uint32_t n;
};

static void add_var(struct cu_ctx *cu, Dwarf_Die die, GArray *to,
		    const struct scope *scope, bool is_param)
{
	struct dw_var v = { 0 };
	const struct origin *o;
	Dwarf_Error err = NULL;
	char *name;

	if (!read_var_loc(die, &v.loc))
		return;		/* optimized out everywhere, or a declaration */
	/* An inlined or concrete instance has its origin's name and type. */
	o = origin_of(cu, die);
	if (dwarf_diename(die, &name, &err) == DW_DLV_OK)
		v.name = intern(cu->b, name);
	else
		v.name = o ? o->name : NULL;
	if (!v.name)
		v.name = "<anon>";
	v.type = o ? o->type : type_of(cu, die, 0);
	v.is_param = is_param;
	if (scope && scope->n) {
		v.n_scope = scope->n;
		v.scope = g_memdup2(scope->r, scope->n * sizeof(struct dw_range));
	}
	g_array_append_val(to, v);
}

static void walk(struct cu_ctx *cu, Dwarf_Die die, struct dw_func *fn,
		 const struct scope *scope, int depth);

static struct dw_func *add_func(struct cu_ctx *cu, Dwarf_Die die,
				struct dw_func *outer, bool inlined)
{
	GArray *r = die_ranges(cu, die);
	const struct origin *o;
	struct dw_func *f;
	Dwarf_Addr entry;
	Dwarf_Error err = NULL;
	Dwarf_Off off;
	char *name;

	if (!r->len || dwarf_dieoffset(die, &off, &err) != DW_DLV_OK) {
		g_array_free(r, TRUE);
		return NULL;
	}
	f = g_new0(struct dw_func, 1);
	if (dwarf_diename(die, &name, &err) == DW_DLV_OK)
		f->name = intern(cu->b, name);
	else if ((o = origin_of(cu, die)))
		f->name = o->name;
	else
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
	f->cu = cu->rec;
	g_ptr_array_add(cu->b->funcs, f);
	g_array_append_val(cu->rec->func_offs, off);
	return f;
}

/*
 * Reading variables late: the function dw_open() made of @die, if it made
 * one (the walk meets the DIEs in the same order).
 */
static struct dw_func *func_of(struct cu_ctx *cu, Dwarf_Die die)
{
	struct dw_cu *c = cu->rec;
	Dwarf_Error err = NULL;
	Dwarf_Off off;

	if (cu->next_func >= c->func_offs->len ||
	    dwarf_dieoffset(die, &off, &err) != DW_DLV_OK ||
	    off != g_array_index(c->func_offs, Dwarf_Off, cu->next_func))
		return NULL;
	return g_ptr_array_index(cu->b->funcs, c->first_func + cu->next_func++);
}

static void walk_children(struct cu_ctx *cu, Dwarf_Die die, struct dw_func *fn,
			  const struct scope *scope, int depth)
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
		 const struct scope *scope, int depth)
{
	Dwarf_Half tag;
	Dwarf_Error err = NULL;
	struct dw_func *f;

	if (depth > 64 || dwarf_tag(die, &tag, &err) != DW_DLV_OK)
		return;
	switch (tag) {
	case DW_TAG_subprogram:
		f = cu->bd ? add_func(cu, die, NULL, false) : func_of(cu, die);
		if (f)
			walk_children(cu, die, f, NULL, depth);
		break;
	case DW_TAG_inlined_subroutine:
		f = cu->bd ? add_func(cu, die, fn ? (fn->outer ? fn->outer : fn) : NULL,
				      true) : func_of(cu, die);
		if (f) {
			/*
			 * Its parameters and locals go to the out-of-line
			 * function (whose frame base they use), visible only
			 * within the instance's ranges.
			 */
			struct scope inst = { f->ranges, f->n_ranges };

			walk_children(cu, die, f, &inst, depth);
		}
		break;
	case DW_TAG_lexical_block:
		if (fn) {
			GArray *r = die_ranges(cu, die);
			struct scope blk = { (struct dw_range *)r->data, r->len };

			walk_children(cu, die, fn, r->len ? &blk : scope, depth);
			g_array_free(r, TRUE);
		}
		break;
	case DW_TAG_formal_parameter:
	case DW_TAG_variable:
		if (fn && cu->bd)
			break;	/* read late, by read_cu_vars() */
		if (fn && fn->inlined && fn->outer)
			add_var(cu, die, fn->outer->vars, scope,
				tag == DW_TAG_formal_parameter);
		else if (fn && !fn->inlined)
			add_var(cu, die, fn->vars, scope,
				tag == DW_TAG_formal_parameter);
		else if (!fn && cu->bd && tag == DW_TAG_variable && depth == 1)
			add_var(cu, die, cu->b->globals, NULL, false);
		break;
	default:
		break;
	}
}

/* -- line tables --------------------------------------------------------- */

enum {
	PF_PROLOGUE_END = 1,	/* some row here is flagged prologue_end */
	PF_MULTI = 2,		/* the table starts two rows with a line here */
};

/* A line-table row as read, before the rows are merged by address. */
struct raw_row {
	uint64_t addr;
	const char *file;
	uint32_t line;
	uint32_t order;			/* in table order: the sort is stable */
	uint8_t is_stmt, end, pflags;
};

/* A sequence: rows [start, start + n) of the raw rows, from address lo. */
struct raw_seq {
	uint64_t lo;
	uint32_t start, n;
};

/*
 * The name of file @fno of the CU's table, asked of libdwarf once per CU:
 * dwarf_linesrc() builds a new string (directory and name) every call.
 */
static const char *file_name(struct cu_ctx *cu, Dwarf_Line line,
			     Dwarf_Unsigned fno)
{
	GPtrArray *files = cu->bd->files;
	Dwarf_Error err = NULL;
	const char *name = NULL;
	char *src;

	if (fno < files->len && files->pdata[fno])
		return files->pdata[fno];
	if (dwarf_linesrc(line, &src, &err) == DW_DLV_OK) {
		name = intern(cu->b, src);
		dwarf_dealloc(cu->b->dbg, src, DW_DLA_STRING);
	}
	if (name && fno < 65536) {	/* a bad number costs a call, not memory */
		if (fno >= files->len)
			g_ptr_array_set_size(files, fno + 1);
		files->pdata[fno] = (void *)name;
	}
	return name;
}

static void end_seq(struct build *bd, uint32_t start)
{
	struct raw_seq s = { .start = start, .n = bd->raw->len - start };

	if (!s.n)
		return;
	s.lo = g_array_index(bd->raw, struct raw_row, start).addr;
	g_array_append_val(bd->seqs, s);
}

/*
 * Read the CU's line table in one pass: each row, whether it is flagged
 * prologue_end, and whether it is the second row with a line at its
 * address (PF_MULTI, GCC's views).
 */
static void read_lines(struct cu_ctx *cu, Dwarf_Die cu_die)
{
	struct build *bd = cu->bd;
	Dwarf_Error err = NULL;
	Dwarf_Unsigned version;
	Dwarf_Small count;
	Dwarf_Line_Context ctx;
	Dwarf_Line *lines;
	Dwarf_Signed n;
	uint64_t prev_addr = 0;
	bool prev_ok = false;
	uint32_t seq = bd->raw->len;

	if (dwarf_srclines_b(cu_die, &version, &count, &ctx, &err) != DW_DLV_OK)
		return;
	g_ptr_array_set_size(bd->files, 0);
	if (dwarf_srclines_from_linecontext(ctx, &lines, &n, &err) != DW_DLV_OK)
		n = 0;
	for (Dwarf_Signed i = 0; i < n; i++) {
		struct raw_row row = { .order = bd->raw->len };
		Dwarf_Addr addr;
		Dwarf_Unsigned lno, fno, isa, disc;
		Dwarf_Bool stmt, end, pend, ebeg;

		if (dwarf_lineaddr(lines[i], &addr, &err) != DW_DLV_OK ||
		    dwarf_lineno(lines[i], &lno, &err) != DW_DLV_OK ||
		    dwarf_linebeginstatement(lines[i], &stmt, &err) != DW_DLV_OK ||
		    dwarf_lineendsequence(lines[i], &end, &err) != DW_DLV_OK)
			continue;
		row.addr = addr;
		row.line = lno;
		row.is_stmt = stmt;
		row.end = end;
		if (dwarf_line_srcfileno(lines[i], &fno, &err) == DW_DLV_OK)
			row.file = file_name(cu, lines[i], fno);
		if (dwarf_prologue_end_etc(lines[i], &pend, &ebeg, &isa, &disc,
					   &err) == DW_DLV_OK && pend)
			row.pflags |= PF_PROLOGUE_END;
		if (!end && lno && prev_ok && prev_addr == addr)
			row.pflags |= PF_MULTI;
		prev_ok = !end && lno;
		prev_addr = addr;
		g_array_append_val(bd->raw, row);
		if (end) {
			end_seq(bd, seq);
			seq = bd->raw->len;
		}
	}
	end_seq(bd, seq);
	dwarf_srclines_dealloc_b(ctx);
}

/* -- building the maps --------------------------------------------------- */

static int raw_cmp(const void *a, const void *b)
{
	const struct raw_row *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int seq_cmp(const void *a, const void *b)
{
	const struct raw_seq *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * The raw rows by (address, table order).  Each sequence is sorted and
 * sequences rarely overlap, so the sequences are sorted by their first
 * address and laid end to end; only if that is not in order (overlapping
 * sequences, or a table going backwards) are all rows sorted.
 */
static GArray *sorted_raw(struct build *bd)
{
	GArray *in = bd->raw, *out;
	const struct raw_row *prev = NULL;
	bool sorted = true;

	g_array_sort(bd->seqs, seq_cmp);
	out = g_array_sized_new(FALSE, FALSE, sizeof(struct raw_row), in->len);
	for (guint i = 0; i < bd->seqs->len; i++) {
		const struct raw_seq *s = &g_array_index(bd->seqs, struct raw_seq, i);

		g_array_append_vals(out, &g_array_index(in, struct raw_row, s->start), s->n);
	}
	for (guint i = 0; i < out->len && sorted; i++) {
		const struct raw_row *r = &g_array_index(out, struct raw_row, i);

		sorted = !prev || raw_cmp(prev, r) < 0;
		prev = r;
	}
	if (!sorted)
		qsort(out->data, out->len, sizeof(struct raw_row), raw_cmp);
	return out;
}

/*
 * Keep one row per address: the last, as binutils does, except that an
 * end_sequence never hides a row that starts another sequence there.  The
 * statement line of an address is its last statement row's.
 */
static void merge_rows(struct build *bd)
{
	g_autoptr(GArray) raw = sorted_raw(bd);
	struct dw_binary *b = bd->b;
	struct dw_row *rows;
	guint o = 0;

	g_array_set_size(b->rows, raw->len);
	rows = (struct dw_row *)b->rows->data;
	bd->pflags = g_malloc0(raw->len ? raw->len : 1);
	for (guint i = 0; i < raw->len; i++) {
		const struct raw_row *cur = &g_array_index(raw, struct raw_row, i);
		struct dw_row r = {
			.addr = cur->addr, .file = cur->file, .line = cur->line,
			.is_stmt = cur->is_stmt, .end = cur->end,
			.sfile = cur->file, .sline = cur->line,
		};

		if (o && rows[o - 1].addr == cur->addr) {
			struct dw_row keep = rows[o - 1];

			bd->pflags[o - 1] |= cur->pflags;
			if (cur->end && !keep.end)
				continue;
			if (!cur->is_stmt && keep.is_stmt && !keep.end) {
				r.is_stmt = 1;
				r.sfile = keep.sfile;
				r.sline = keep.sline;
			}
			rows[o - 1] = r;
			continue;
		}
		bd->pflags[o] = cur->pflags;
		rows[o++] = r;
	}
	g_array_set_size(b->rows, o);
}

static uint64_t item_addr(const void *items, size_t stride, guint i)
{
	uint64_t a;

	memcpy(&a, (const char *)items + i * stride, sizeof(a));
	return a;
}

/* Map over @n items of @stride bytes, each starting with its address. */
static struct dw_amap *amap_new(const void *items, size_t stride, guint n)
{
	struct dw_amap *m = g_new0(struct dw_amap, 1);
	uint64_t span;
	guint k = 0;

	m->n = n;
	if (!n)
		return m;
	m->base = item_addr(items, stride, 0);
	span = item_addr(items, stride, n - 1) - m->base;
	/* 31 bits: a bucket may reach past the last address. */
	m->wide = span >> 31;
	if (m->wide)
		m->keys = g_new(uint64_t, n);
	else
		m->off = g_new(uint32_t, n);
	for (guint i = 0; i < n; i++) {
		uint64_t d = item_addr(items, stride, i) - m->base;

		if (m->wide)
			m->keys[i] = d + m->base;
		else
			m->off[i] = d;
	}
	/* About four addresses a bucket: one cache line to search. */
	while ((span >> m->shift) >= n / 4 + 1)
		m->shift++;
	m->n_buckets = (span >> m->shift) + 1;
	m->bucket = g_new(uint32_t, m->n_buckets + 1);
	for (guint i = 0; i < m->n_buckets; i++) {
		uint64_t start = (uint64_t)i << m->shift;

		while (k < n && item_addr(items, stride, k) - m->base < start)
			k++;
		m->bucket[i] = k;
	}
	m->bucket[m->n_buckets] = n;
	return m;
}

static void amap_free(struct dw_amap *m)
{
	if (!m)
		return;
	g_free(m->off);
	g_free(m->keys);
	g_free(m->bucket);
	g_free(m);
}

/*
 * The last of @len (> 0) sorted values from @v at or below @x, as an
 * index from @v, or -1.  Branch-free halving: the compiler makes each
 * step a conditional move, so a lookup mispredicts no branch.
 */
static inline long last_le32(const uint32_t *v, uint32_t len, uint32_t x)
{
	const uint32_t *p = v;

	while (len > 1) {
		uint32_t half = len / 2;

		p = p[half] <= x ? p + half : p;
		len -= half;
	}
	return (long)(p - v) - (*p > x);
}

static inline long last_le64(const uint64_t *v, uint32_t len, uint64_t x)
{
	const uint64_t *p = v;

	while (len > 1) {
		uint32_t half = len / 2;

		p = p[half] <= x ? p + half : p;
		len -= half;
	}
	return (long)(p - v) - (*p > x);
}

/* The index of the last address at or below @addr, or -1. */
static inline long amap_find(const struct dw_amap *m, uint64_t addr)
{
	uint64_t d;
	uint32_t lo, len;

	if (!m->n || addr < m->base)
		return -1;
	d = (addr - m->base) >> m->shift;
	if (d >= m->n_buckets)
		return (long)m->n - 1;
	lo = m->bucket[d];
	len = m->bucket[d + 1] - lo;
	if (!len)
		return (long)lo - 1;
	if (m->wide)
		return lo + last_le64(m->keys + lo, len, addr);
	return lo + last_le32(m->off + lo, len, addr - m->base);
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

/*
 * The address after the prologue: the first row in the function flagged
 * prologue_end if the compiler says (clang does), else the second row of
 * the function (the first with an address above the entry), except that
 * a function whose entry starts two rows has an empty prologue.  This is
 * what gdb's skip_prologue_using_sal finds for GCC's code ("break FUNC").
 */
static void find_post_prologue(struct build *bd, struct dw_func *f)
{
	struct dw_binary *b = bd->b;
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
	if (lo < n && rows[lo].addr == f->lo && (bd->pflags[lo] & PF_MULTI))
		lo = n;
	for (guint i = lo; i < n && rows[i].addr < f->hi; i++) {
		if (rows[i].end || !rows[i].line)
			continue;
		if (bd->pflags[i] & PF_PROLOGUE_END) {
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

static void build_free(struct build *bd)
{
	g_array_free(bd->raw, TRUE);
	g_array_free(bd->seqs, TRUE);
	g_ptr_array_free(bd->files, TRUE);
	g_free(bd->pflags);
}

static void free_cu(void *p)
{
	struct dw_cu *c = p;

	g_array_free(c->func_offs, TRUE);
	g_free(c);
}

static struct dw_late *late_new(void)
{
	struct dw_late *l = g_new(struct dw_late, 1);

	l->cus = g_ptr_array_new_with_free_func(free_cu);
	l->types = g_hash_table_new(g_direct_hash, g_direct_equal);
	l->origins = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	return l;
}

static void late_free(struct dw_late *l)
{
	if (!l)
		return;
	g_ptr_array_free(l->cus, TRUE);
	g_hash_table_destroy(l->types);
	g_hash_table_destroy(l->origins);
	g_free(l);
}

/* Read the parameters and locals of @c's functions.  Call with cfi_lock held. */
static void read_cu_vars_locked(struct dw_binary *b, struct dw_cu *c)
{
	struct cu_ctx cu = {
		.b = b, .rec = c, .base = c->base,
		.version = c->version, .addr_size = c->addr_size,
	};
	Dwarf_Error err = NULL;
	Dwarf_Die die;

	if (dwarf_offdie_b(b->dbg, c->die_off, TRUE, &die, &err) == DW_DLV_OK) {
		walk_children(&cu, die, NULL, NULL, 0);
		dwarf_dealloc_die(die);
	}
}

/*
 * Make sure @f's variables are read.  dw_binary is const to its readers;
 * this fills a cache behind it, under the lock every libdwarf call after
 * dw_open() takes, and publishes it with the atomic flag.
 */
void dw_read_vars(const struct dw_binary *cb, const struct dw_func *f)
{
	struct dw_binary *b = (struct dw_binary *)cb;
	struct dw_cu *c = f->cu;

	if (!c || g_atomic_int_get(&c->vars_read))
		return;
	g_mutex_lock(&b->cfi_lock);
	if (!c->vars_read) {
		read_cu_vars_locked(b, c);
		g_atomic_int_set(&c->vars_read, 1);
	}
	g_mutex_unlock(&b->cfi_lock);
}

struct dw_binary *dw_open(const char *path, uint64_t bias, char **err)
{
	struct dw_binary *b = g_new0(struct dw_binary, 1);
	struct build bd = {
		.b = b,
		.raw = g_array_new(FALSE, FALSE, sizeof(struct raw_row)),
		.seqs = g_array_new(FALSE, FALSE, sizeof(struct raw_seq)),
		.files = g_ptr_array_new(),
	};
	Dwarf_Error derr = NULL;
	int rc;

	b->path = g_strdup(path);
	b->bias = bias;
	g_mutex_init(&b->cfi_lock);
	b->strs = g_string_chunk_new(4096);
	b->rows = g_array_new(FALSE, FALSE, sizeof(struct dw_row));
	b->funcs = g_ptr_array_new_with_free_func(free_func);
	b->globals = g_array_new(FALSE, FALSE, sizeof(struct dw_var));
	b->late = late_new();

	/*
	 * libdwarf records every object it hands out, so that dwarf_finish()
	 * frees what the caller did not.  Turning that off reads a third
	 * faster, but then whatever is not given back one by one leaks at
	 * each reload (tests/integration/stpi-reload.t sees it in RSS): keep it.
	 */
	dwarf_set_de_alloc_flag(1);
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
		Dwarf_Unsigned hlen, typeoff, next;
		Dwarf_Half version, addr_size, len_size, ext_size, hdr_type;
		Dwarf_Off abbrev;
		Dwarf_Sig8 sig;
		Dwarf_Die cu_die = NULL;
		struct cu_ctx cu = { .b = b, .bd = &bd };
		struct dw_cu *rec;
		Dwarf_Addr base;
		Dwarf_Off off;
		guint before = b->funcs->len;

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
		if (dwarf_dieoffset(cu_die, &off, &derr) != DW_DLV_OK) {
			dwarf_dealloc_die(cu_die);
			continue;
		}
		cu.version = version;
		cu.addr_size = addr_size;
		if (dwarf_lowpc(cu_die, &base, &derr) == DW_DLV_OK)
			cu.base = base;
		rec = g_new0(struct dw_cu, 1);
		rec->die_off = off;
		rec->version = version;
		rec->addr_size = addr_size;
		rec->base = cu.base;
		rec->first_func = before;
		rec->func_offs = g_array_new(FALSE, FALSE, sizeof(Dwarf_Off));
		g_ptr_array_add(b->late->cus, rec);
		cu.rec = rec;
		read_lines(&cu, cu_die);
		walk_children(&cu, cu_die, NULL, NULL, 0);
		if (!b->addr_size && b->funcs->len > before)
			b->addr_size = addr_size;
		dwarf_dealloc_die(cu_die);
	}
	if (!b->addr_size)
		b->addr_size = 4;

	merge_rows(&bd);
	b->row_map = amap_new(b->rows->data, sizeof(struct dw_row), b->rows->len);
	b->segs = build_segs(b, true);
	b->seg_map = amap_new(b->segs->data, sizeof(struct dw_seg), b->segs->len);
	b->osegs = build_segs(b, false);
	b->oseg_map = amap_new(b->osegs->data, sizeof(struct dw_seg), b->osegs->len);
	for (guint i = 0; i < b->funcs->len; i++) {
		struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (!f->inlined)
			find_post_prologue(&bd, f);
	}
	build_free(&bd);

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
	build_free(&bd);
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
	late_free(b->late);
	if (b->segs)
		g_array_free(b->segs, TRUE);
	if (b->osegs)
		g_array_free(b->osegs, TRUE);
	if (b->rows)
		g_array_free(b->rows, TRUE);
	amap_free(b->row_map);
	amap_free(b->seg_map);
	amap_free(b->oseg_map);
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
	long i = amap_find(b->row_map, addr);

	if (i < 0 || rows[i].end)
		return NULL;
	return &rows[i];
}

const struct dw_func *dw_func_at(const struct dw_binary *b, uint64_t addr,
				 bool innermost)
{
	const GArray *a = innermost ? b->segs : b->osegs;
	const struct dw_seg *s = (const struct dw_seg *)a->data;
	long i = amap_find(innermost ? b->seg_map : b->oseg_map, addr);

	if (i < 0 || addr >= s[i].hi)
		return NULL;
	/* Who asks for the out-of-line function reads its variables next. */
	if (!innermost)
		dw_read_vars(b, s[i].fn);
	return s[i].fn;
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
