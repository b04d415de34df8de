// SPDX-License-Identifier: MIT
/*
 * index.c - read one binary's DWARF, with dwarfp's own DIE reader and
 * libdwarf (Debian's 20210528, the pre-0.x API), into flat, sorted arrays:
 * line rows, functions and their address map, variables with their
 * location expressions, globals.  The CFI stays in libdwarf, read on the
 * first question (dw_cfa() asks it at run time).
 *
 * This file opens and closes the index and walks the DIEs (functions,
 * ranges, types, variables and their locations); lines.c reads the line
 * tables, addrmap.c builds the address maps and answers the lookups.
 * dw_open() walks the DIEs of a mapped file with dies.c, dwarfp's own
 * reader (raw_walk(): no object per DIE); libdwarf walks those of other
 * files (walk()), and always reads the variables, whose DIEs the late
 * reads find again by offset.  The two walks build the same index
 * (tests/integration/dwarfp-walk.t).
 *
 * After dw_open() returns, only the variables of functions change: they
 * are read late, a CU at a time (dw_read_vars()).
 *
 * dw_open() is on the path of every dwarfp load, so it spells each type
 * and each abstract origin once.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index.h"

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

/*
 * Memory given back only with the whole index (functions, their ranges,
 * origins): a few large blocks, not a malloc() each and a free() each in
 * dw_close(), which on the Linux kernel's 330,000 functions cost a tenth
 * of a batch of lookups.
 */
struct arena {
	GPtrArray *blocks;
	uint8_t *next;
	size_t left;
};

#define ARENA_BLOCK (256 * 1024)

/* @n zeroed bytes, aligned for any object, from @a. */
static void *arena_alloc(struct arena *a, size_t n)
{
	void *p;

	n = (n + 15) & ~(size_t)15;
	if (n > a->left) {
		a->left = MAX(n, ARENA_BLOCK);
		a->next = g_malloc0(a->left);
		g_ptr_array_add(a->blocks, a->next);
	}
	p = a->next;
	a->next += n;
	a->left -= n;
	return p;
}

/* What the late variable reads keep from dw_open(). */
struct dw_late {
	GPtrArray *cus;			/* struct dw_cu *, owned */
	GHashTable *types;		/* type DIE offset -> C spelling */
	GHashTable *origins;		/* origin DIE offset -> struct origin */
	struct arena mem;		/* the functions, ranges and origins */
};

/* Everything the DIE walk of one CU needs. */
struct cu_ctx {
	struct dw_binary *b;
	struct dw_build *bd;		/* NULL when reading variables late */
	struct dw_cu *rec;
	guint next_func;		/* late: the next of rec's functions */
	uint64_t base;
	Dwarf_Half version;
	Dwarf_Half addr_size;
	/* dw_open()'s own walk (dies.c), when the file's sections allow it */
	struct dw_dies *dies;
	struct dw_unit *unit;
	GArray *scratch;		/* struct dw_range, the ranges being read */
	bool raw_failed;		/* a reference dies.c does not follow */
};

static bool attr_udata(Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *v)
{
	Dwarf_Attribute a;
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Half form;
	bool ok;

	if (dwarf_attr(die, at, &a, dw_err(&err)) != DW_DLV_OK)
		return false;
	/*
	 * Asked of an address-class value (GCC's DWARF 5 entry_pc),
	 * dwarf_formudata() fails and makes an error object: ask the form.
	 */
	ok = dwarf_whatform(a, &form, dw_err(&err)) == DW_DLV_OK &&
	     dwarf_get_form_class(5, at, 4, form) == DW_FORM_CLASS_CONSTANT &&
	     dwarf_formudata(a, v, dw_err(&err)) == DW_DLV_OK;
	dwarf_dealloc_attribute(a);
	return ok;
}

/* The offset of the DIE that attribute @at of @die refers to. */
static bool attr_ref_off(Dwarf_Die die, Dwarf_Half at, Dwarf_Off *off)
{
	Dwarf_Attribute a;
	g_auto(Dwarf_Error) err = NULL;
	int rc;

	if (dwarf_attr(die, at, &a, dw_err(&err)) != DW_DLV_OK)
		return false;
	rc = dwarf_global_formref(a, off, dw_err(&err));
	dwarf_dealloc_attribute(a);
	return rc == DW_DLV_OK;
}

/* The DIE that attribute @at of @die refers to (abstract_origin, type ...). */
static bool attr_ref(Dwarf_Debug dbg, Dwarf_Die die, Dwarf_Half at,
		     Dwarf_Die *out)
{
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Off off;

	if (!attr_ref_off(die, at, &off))
		return false;
	return dwarf_offdie_b(dbg, off, dwarf_get_die_infotypes_flag(die), out,
			      dw_err(&err)) == DW_DLV_OK;
}

/*
 * A DIE's name, following abstract_origin and specification.  It points
 * into the string section, which stays until dw_close() (mapped, or
 * loaded by libdwarf until dwarf_finish()): kept as it is, not copied.
 */
static char *die_name(Dwarf_Debug dbg, Dwarf_Die die, int depth)
{
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Die other;
	char *name;

	if (dwarf_diename(die, &name, dw_err(&err)) == DW_DLV_OK)
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

/* Is a type of @tag spelled around the type it refers to (a pointer's ...)? */
static bool type_wraps(int tag)
{
	return tag == DW_TAG_pointer_type || tag == DW_TAG_const_type ||
	       tag == DW_TAG_volatile_type || tag == DW_TAG_array_type;
}

/* The C spelling of a type DIE of @tag named @name; @inner: what it wraps. */
static GString *type_spell(int tag, const char *name, const char *inner)
{
	GString *out = g_string_new(NULL);

	switch (tag) {
	case DW_TAG_pointer_type:
		g_string_append_printf(out, "%s *", inner);
		break;
	case DW_TAG_const_type:
		g_string_append_printf(out, "const %s", inner);
		break;
	case DW_TAG_volatile_type:
		g_string_append_printf(out, "volatile %s", inner);
		break;
	case DW_TAG_array_type:
		g_string_append_printf(out, "%s[]", inner);
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
	return out;
}

/*
 * A C spelling of the type DIE at @off ("int", "struct point *", ...),
 * interned and remembered: a binary names few types many times.
 */
static const char *type_at(struct cu_ctx *cu, Dwarf_Off off, Dwarf_Bool is_info,
			   int depth)
{
	Dwarf_Debug dbg = cu->b->dbg;
	g_autoptr(GString) out = NULL;
	g_auto(Dwarf_Error) err = NULL;
	const char *known;
	Dwarf_Half tag;
	Dwarf_Die t;
	char *name;

	known = g_hash_table_lookup(cu->b->late->types, GSIZE_TO_POINTER(off));
	if (known)
		return known;
	if (depth > 16 ||
	    dwarf_offdie_b(dbg, off, is_info, &t, dw_err(&err)) != DW_DLV_OK)
		return "void";
	if (dwarf_tag(t, &tag, dw_err(&err)) != DW_DLV_OK)
		tag = 0;
	name = die_name(dbg, t, 0);
	out = type_spell(tag, name, type_wraps(tag) ? type_of(cu, t, depth + 1) : NULL);
	dwarf_dealloc_die(t);
	known = dw_intern(cu->b, out->str);
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
 * The type only when asked: functions need the name only, and spelling
 * their return types was a tenth of dw_open() on the Linux kernel.
 */
struct origin {
	const char *name;
	const char *type;		/* NULL until a variable asks */
};

static const struct origin *origin_of(struct cu_ctx *cu, Dwarf_Die die,
				      bool want_type)
{
	Dwarf_Bool is_info = dwarf_get_die_infotypes_flag(die);
	struct origin *o;
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Off off;
	Dwarf_Die od;

	if (!attr_ref_off(die, DW_AT_abstract_origin, &off) &&
	    !attr_ref_off(die, DW_AT_specification, &off))
		return NULL;
	o = g_hash_table_lookup(cu->b->late->origins, GSIZE_TO_POINTER(off));
	if (o && (o->type || !want_type))
		return o;
	if (dwarf_offdie_b(cu->b->dbg, off, is_info, &od, dw_err(&err)) != DW_DLV_OK)
		return o;
	if (!o) {
		o = arena_alloc(&cu->b->late->mem, sizeof(*o));
		o->name = die_name(cu->b->dbg, od, 1);
		g_hash_table_insert(cu->b->late->origins, GSIZE_TO_POINTER(off), o);
	}
	if (want_type)
		o->type = type_of(cu, od, 0);
	dwarf_dealloc_die(od);
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
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Addr lo, hi;
	Dwarf_Half form;
	enum Dwarf_Form_Class cls;
	Dwarf_Attribute a;

	if (dwarf_lowpc(die, &lo, dw_err(&err)) == DW_DLV_OK &&
	    dwarf_highpc_b(die, &hi, &form, &cls, dw_err(&err)) == DW_DLV_OK) {
		if (cls == DW_FORM_CLASS_CONSTANT)
			hi += lo;
		add_range(r, lo, hi);
		return r;
	}
	if (dwarf_attr(die, DW_AT_ranges, &a, dw_err(&err)) != DW_DLV_OK)
		return r;
	if (dwarf_whatform(a, &form, dw_err(&err)) != DW_DLV_OK)
		goto out;
	if (cu->version >= 5) {
		Dwarf_Unsigned v = 0, n = 0, goff;
		Dwarf_Rnglists_Head head;

		if (form == DW_FORM_rnglistx) {
			if (dwarf_formudata(a, &v, dw_err(&err)) != DW_DLV_OK)
				goto out;
		} else {
			Dwarf_Off off;

			if (dwarf_global_formref(a, &off, dw_err(&err)) != DW_DLV_OK)
				goto out;
			v = off;
		}
		if (dwarf_rnglists_get_rle_head(a, form, v, &head, &n, &goff,
						dw_err(&err)) != DW_DLV_OK)
			goto out;
		for (Dwarf_Unsigned i = 0; i < n; i++) {
			unsigned len, rle;
			Dwarf_Unsigned raw1, raw2, c1, c2;
			Dwarf_Bool unavail;

			if (dwarf_get_rnglists_entry_fields_a(head, i, &len, &rle,
							      &raw1, &raw2, &unavail,
							      &c1, &c2, dw_err(&err)) != DW_DLV_OK)
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

		if (dwarf_global_formref(a, &off, dw_err(&err)) != DW_DLV_OK)
			goto out;
		if (dwarf_get_ranges_b(cu->b->dbg, off, die, &real, &rb, &n, &bytes,
				       dw_err(&err)) != DW_DLV_OK)
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
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Loc_Head_c head;
	Dwarf_Unsigned count;
	unsigned int kind;
	GArray *es;

	memset(loc, 0, sizeof(*loc));
	if (dwarf_attr(die, at, &a, dw_err(&err)) != DW_DLV_OK)
		return false;
	if (dwarf_get_loclist_c(a, &head, &count, dw_err(&err)) != DW_DLV_OK) {
		dwarf_dealloc_attribute(a);
		return false;
	}
	if (dwarf_get_loclist_head_kind(head, &kind, dw_err(&err)) != DW_DLV_OK)
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
					      &doff, dw_err(&err)) != DW_DLV_OK)
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
							  &br, dw_err(&err)) != DW_DLV_OK) {
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
	g_auto(Dwarf_Error) err = NULL;

	if (read_loc(die, DW_AT_location, loc))
		return true;
	if (dwarf_attr(die, DW_AT_const_value, &a, dw_err(&err)) == DW_DLV_OK) {
		Dwarf_Signed s;
		Dwarf_Unsigned u;

		memset(loc, 0, sizeof(*loc));
		if (dwarf_formsdata(a, &s, dw_err(&err)) == DW_DLV_OK) {
			loc->is_const = true;
			loc->value = (uint64_t)s;
		} else if (dwarf_formudata(a, &u, dw_err(&err)) == DW_DLV_OK) {
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
	g_auto(Dwarf_Error) err = NULL;
	char *name;

	if (!read_var_loc(die, &v.loc))
		return;		/* optimized out everywhere, or a declaration */
	/* An inlined or concrete instance has its origin's name and type. */
	o = origin_of(cu, die, true);
	if (dwarf_diename(die, &name, dw_err(&err)) == DW_DLV_OK)
		v.name = name;
	else
		v.name = o ? o->name : NULL;
	if (!v.name)
		v.name = "<anon>";
	v.type = o && o->type ? o->type : type_of(cu, die, 0);
	v.is_param = is_param;
	if (scope && scope->n) {
		v.n_scope = scope->n;
		v.scope = g_memdup2(scope->r, scope->n * sizeof(struct dw_range));
	}
	g_array_append_val(to, v);
}

static void walk(struct cu_ctx *cu, Dwarf_Die die, struct dw_func *fn,
		 const struct scope *scope, int depth);

/*
 * The function of the DIE at @off, entered at @entry, with its @n ranges
 * @r (copied), appended to the index and to its CU's record.
 */
static struct dw_func *func_new(struct cu_ctx *cu, Dwarf_Off off, const char *name,
				const struct dw_range *r, guint n, uint64_t entry,
				struct dw_func *outer, bool inlined)
{
	struct dw_func *f = arena_alloc(&cu->b->late->mem, sizeof(*f));

	f->name = name;
	f->inlined = inlined;
	f->outer = outer;
	f->addr_size = cu->addr_size;
	f->n_ranges = n;
	f->ranges = arena_alloc(&cu->b->late->mem, n * sizeof(*r));
	memcpy(f->ranges, r, n * sizeof(*r));
	/* The range holding the entry bounds the body. */
	f->lo = f->ranges[0].lo;
	f->hi = f->ranges[0].hi;
	for (uint32_t i = 0; i < f->n_ranges; i++) {
		if (entry >= f->ranges[i].lo && entry < f->ranges[i].hi) {
			f->lo = f->ranges[i].lo;
			f->hi = f->ranges[i].hi;
		}
	}
	f->cu = cu->rec;
	g_ptr_array_add(cu->b->funcs, f);
	g_array_append_val(cu->rec->func_offs, off);
	return f;
}

static struct dw_func *add_func(struct cu_ctx *cu, Dwarf_Die die,
				struct dw_func *outer, bool inlined)
{
	g_autoptr(GArray) r = die_ranges(cu, die);
	const struct origin *o;
	Dwarf_Addr entry;
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Off off;
	const char *fname;
	char *name;

	if (!r->len || dwarf_dieoffset(die, &off, dw_err(&err)) != DW_DLV_OK)
		return NULL;
	if (dwarf_diename(die, &name, dw_err(&err)) == DW_DLV_OK)
		fname = name;
	else if ((o = origin_of(cu, die, false)))
		fname = o->name;
	else
		fname = die_name(cu->b->dbg, die, 0);
	/* The entry is low_pc (or entry_pc). */
	if (dwarf_lowpc(die, &entry, dw_err(&err)) != DW_DLV_OK)
		entry = g_array_index(r, struct dw_range, 0).lo;
	if (inlined) {
		Dwarf_Unsigned e;

		if (attr_udata(die, DW_AT_entry_pc, &e))
			entry = e;
	}
	return func_new(cu, off, fname, (struct dw_range *)r->data, r->len, entry,
			outer, inlined);
}

/*
 * Reading variables late: the function dw_open() made of @die, if it made
 * one (the walk meets the DIEs in the same order).
 */
static struct dw_func *func_of(struct cu_ctx *cu, Dwarf_Die die)
{
	struct dw_cu *c = cu->rec;
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Off off;

	if (cu->next_func >= c->func_offs->len ||
	    dwarf_dieoffset(die, &off, dw_err(&err)) != DW_DLV_OK ||
	    off != g_array_index(c->func_offs, Dwarf_Off, cu->next_func))
		return NULL;
	return g_ptr_array_index(cu->b->funcs, c->first_func + cu->next_func++);
}

static void walk_children(struct cu_ctx *cu, Dwarf_Die die, struct dw_func *fn,
			  const struct scope *scope, int depth)
{
	Dwarf_Die child, next;
	g_auto(Dwarf_Error) err = NULL;

	if (dwarf_child(die, &child, dw_err(&err)) != DW_DLV_OK)
		return;
	for (;;) {
		walk(cu, child, fn, scope, depth + 1);
		if (dwarf_siblingof_b(cu->b->dbg, child, TRUE, &next,
				      dw_err(&err)) != DW_DLV_OK)
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
	g_auto(Dwarf_Error) err = NULL;
	struct dw_func *f;

	if (depth > 64 || dwarf_tag(die, &tag, dw_err(&err)) != DW_DLV_OK)
		return;
	switch (tag) {
	case DW_TAG_subprogram:
		f = cu->bd ? add_func(cu, die, NULL, false) : func_of(cu, die);
		/* The frame base, as the variables, only for those asked about. */
		if (f && !cu->bd)
			read_loc(die, DW_AT_frame_base, &f->frame_base);
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
		/* A block only scopes variables: no ranges before they are read. */
		if (fn && cu->bd) {
			walk_children(cu, die, fn, scope, depth);
		} else if (fn) {
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

/* -- dw_open()'s own walk ------------------------------------------------- */

/*
 * The same walk as walk() with cu->bd set, over dies.c's reading of the
 * mapped sections: the same functions, names and ranges, in the same
 * order, and the same origins and type spellings remembered; nothing made
 * per DIE.  A global at a fixed address is read here too; other globals
 * (a register, a const_value, a location list) through libdwarf, by
 * add_var().
 */

/* The DIE a reference of @u leads to, and its unit (dwarf_offdie_b()'s). */
static bool raw_ref_die(struct cu_ctx *cu, struct dw_unit *u, const struct dw_aval *v,
			bool have, struct dw_unit **ou, struct dw_die *out)
{
	uint64_t off;

	if (!dw_die_ref(cu->dies, u, v, have, &off))
		return false;
	*ou = dw_dies_unit(cu->dies, off);
	return *ou && dw_die_read_all(cu->dies, *ou, off, out) == 1;
}

/* die_name() of a DIE read by dies.c. */
static const char *raw_die_name(struct cu_ctx *cu, struct dw_unit *u,
				const struct dw_die *die, int depth)
{
	const char *name = NULL;
	struct dw_unit *ou;
	struct dw_die other;

	if (die->have & DW_HAVE_NAME)
		name = dw_die_str(cu->dies, u, &die->name);
	if (name || depth > 8)
		return name;
	if (raw_ref_die(cu, u, &die->origin, die->have & DW_HAVE_ORIGIN, &ou, &other) ||
	    raw_ref_die(cu, u, &die->spec, die->have & DW_HAVE_SPEC, &ou, &other))
		return raw_die_name(cu, ou, &other, depth + 1);
	return NULL;
}

static const char *raw_type_of(struct cu_ctx *cu, struct dw_unit *u,
			       const struct dw_die *die, int depth);

/* origin_of() of a DIE read by dies.c. */
static const struct origin *raw_origin_of(struct cu_ctx *cu, const struct dw_die *die,
					  bool want_type)
{
	struct dw_unit *u = cu->unit, *ou;
	struct origin *o;
	struct dw_die od;
	uint64_t off;

	if (!dw_die_ref(cu->dies, u, &die->origin, die->have & DW_HAVE_ORIGIN, &off) &&
	    !dw_die_ref(cu->dies, u, &die->spec, die->have & DW_HAVE_SPEC, &off))
		return NULL;
	o = g_hash_table_lookup(cu->b->late->origins, GSIZE_TO_POINTER(off));
	if (o && (o->type || !want_type))
		return o;
	ou = dw_dies_unit(cu->dies, off);
	if (!ou || dw_die_read_all(cu->dies, ou, off, &od) != 1)
		return o;
	if (!o) {
		o = arena_alloc(&cu->b->late->mem, sizeof(*o));
		o->name = raw_die_name(cu, ou, &od, 1);
		g_hash_table_insert(cu->b->late->origins, GSIZE_TO_POINTER(off), o);
	}
	if (want_type) {
		const char *t = raw_type_of(cu, ou, &od, 0);

		if (!cu->raw_failed)
			o->type = t;
	}
	return o;
}

/*
 * type_at() of the type DIE at @off read by dies.c, into the same
 * remembered spellings.  A reference dies.c does not follow (a type
 * unit's signature) sets cu->raw_failed: the caller asks libdwarf then.
 */
static const char *raw_type_at(struct cu_ctx *cu, uint64_t off, int depth)
{
	g_autoptr(GString) out = NULL;
	const char *known, *name;
	struct dw_unit *u;
	struct dw_die t;

	known = g_hash_table_lookup(cu->b->late->types, GSIZE_TO_POINTER(off));
	if (known)
		return known;
	u = dw_dies_unit(cu->dies, off);
	if (depth > 16 || !u || dw_die_read_all(cu->dies, u, off, &t) != 1)
		return "void";
	name = raw_die_name(cu, u, &t, 0);
	out = type_spell(t.tag, name, type_wraps(t.tag) ?
			 raw_type_of(cu, u, &t, depth + 1) : NULL);
	known = dw_intern(cu->b, out->str);
	if (depth == 0 && !cu->raw_failed)
		g_hash_table_insert(cu->b->late->types, GSIZE_TO_POINTER(off),
				    (void *)known);
	return known;
}

/* type_of() of a DIE read by dies.c. */
static const char *raw_type_of(struct cu_ctx *cu, struct dw_unit *u,
			       const struct dw_die *die, int depth)
{
	uint64_t off;

	if (!(die->have & DW_HAVE_TYPE))
		return "void";
	if (!dw_die_ref(cu->dies, u, &die->type, true, &off)) {
		/* A type unit's signature, say: libdwarf may follow it. */
		cu->raw_failed = true;
		return "void";
	}
	return raw_type_at(cu, off, depth);
}

/* add_func() of a DIE read by dies.c. */
static struct dw_func *raw_add_func(struct cu_ctx *cu, const struct dw_die *die,
				    struct dw_func *outer, bool inlined)
{
	const struct dw_dies *d = cu->dies;
	struct dw_unit *u = cu->unit;
	GArray *r = cu->scratch;
	const struct origin *o;
	uint64_t lo, hi, entry, e;
	const char *name = NULL;
	bool has_lo;

	/* die_ranges(): low_pc and high_pc (an address or a length), else ranges. */
	g_array_set_size(r, 0);
	has_lo = dw_die_addr(d, u, &die->low_pc, die->have & DW_HAVE_LOW_PC, &lo);
	if (has_lo && dw_die_addr(d, u, &die->high_pc, die->have & DW_HAVE_HIGH_PC, &hi)) {
		if (hi > lo)
			g_array_append_val(r, ((struct dw_range){ lo, hi }));
	} else if (has_lo && dw_die_const(&die->high_pc, die->have & DW_HAVE_HIGH_PC, &hi)) {
		if (lo + hi > lo)
			g_array_append_val(r, ((struct dw_range){ lo, lo + hi }));
	} else {
		dw_die_ranges(d, u, die, cu->base, r);
	}
	if (!r->len)
		return NULL;
	if (die->have & DW_HAVE_NAME)
		name = dw_die_str(d, u, &die->name);
	if (!name) {
		if ((o = raw_origin_of(cu, die, false)))
			name = o->name;
		else
			name = raw_die_name(cu, u, die, 0);
	}
	entry = has_lo ? lo : g_array_index(r, struct dw_range, 0).lo;
	if (inlined && dw_die_const(&die->entry_pc, die->have & DW_HAVE_ENTRY_PC, &e))
		entry = e;
	return func_new(cu, die->off, name, (struct dw_range *)r->data, r->len,
			entry, outer, inlined);
}

/*
 * add_var() of a global read by dies.c: one at a fixed address (the
 * expression DW_OP_addr alone, as nearly all are) is read here, any other
 * through libdwarf.
 */
static void raw_add_global(struct cu_ctx *cu, const struct dw_die *die)
{
	const struct dw_aval *l = &die->location;
	struct dw_unit *u = cu->unit;
	g_auto(Dwarf_Error) err = NULL;
	struct dw_var v = { 0 };
	struct dw_locexpr *e;
	const struct origin *o;
	Dwarf_Die ld;

	if ((die->have & DW_HAVE_LOCATION) && l->form == DW_FORM_exprloc &&
	    l->v == 1u + u->addr_size && l->ptr[0] == DW_OP_addr) {
		cu->raw_failed = false;
		o = raw_origin_of(cu, die, true);
		if (die->have & DW_HAVE_NAME)
			v.name = dw_die_str(cu->dies, u, &die->name);
		if (!v.name)
			v.name = o ? o->name : NULL;
		if (!v.name)
			v.name = "<anon>";
		v.type = o && o->type ? o->type : raw_type_of(cu, u, die, 0);
		if (!cu->raw_failed) {
			v.loc.whole = true;
			v.loc.n = 1;
			v.loc.e = e = g_new0(struct dw_locexpr, 1);
			e->n_ops = 1;
			e->ops = g_new0(struct dw_op, 1);
			e->ops[0].atom = DW_OP_addr;
			for (unsigned i = 0; i < u->addr_size; i++)
				e->ops[0].op1 |= (uint64_t)l->ptr[1 + i] << (8 * i);
			g_array_append_val(cu->b->globals, v);
			return;
		}
	}
	if (dwarf_offdie_b(cu->b->dbg, die->off, TRUE, &ld, dw_err(&err)) != DW_DLV_OK)
		return;
	add_var(cu, ld, cu->b->globals, NULL, false);
	dwarf_dealloc_die(ld);
}

static uint64_t raw_walk(struct cu_ctx *cu, const struct dw_die *die,
			 struct dw_func *fn, int depth);
static void free_var(struct dw_var *v);

/*
 * walk_children() of a DIE read by dies.c: the offset after the null
 * entry that ends its children (or the unit's end), 0 if the unit is
 * broken there.
 */
static uint64_t raw_walk_children(struct cu_ctx *cu, const struct dw_die *die,
				  struct dw_func *fn, int depth)
{
	struct dw_unit *u = cu->unit;
	uint64_t off = die->next;

	if (!die->children)
		return off;
	/* Each DIE moves forward (raw_walk() returns past it): the unit bounds this. */
	while (off < u->end) {
		struct dw_die c;
		/* Variables matter as globals only: the unit's children. */
		int rc = dw_die_read(cu->dies, u, off, &c, depth == 0);

		if (rc <= 0)
			return rc ? 0 : c.next;
		off = raw_walk(cu, &c, fn, depth + 1);
		if (!off)
			return 0;
	}
	return u->end;
}

/* walk() of a DIE read by dies.c: the offset after its subtree, 0 if broken. */
static uint64_t raw_walk(struct cu_ctx *cu, const struct dw_die *die,
			 struct dw_func *fn, int depth)
{
	struct dw_unit *u = cu->unit;
	struct dw_func *f = NULL;
	uint64_t end, sib;

	if (depth > 64)
		return dw_die_skip(cu->dies, u, die);
	switch (die->tag) {
	case DW_TAG_subprogram:
		f = raw_add_func(cu, die, NULL, false);
		break;
	case DW_TAG_inlined_subroutine:
		f = raw_add_func(cu, die, fn ? (fn->outer ? fn->outer : fn) : NULL, true);
		break;
	case DW_TAG_lexical_block:
		f = fn;
		break;
	case DW_TAG_variable:
		if (!fn && depth == 1 &&
		    (die->have & (DW_HAVE_LOCATION | DW_HAVE_CONST_VALUE)))
			raw_add_global(cu, die);
		break;
	default:
		break;
	}
	if (!f || !die->children)
		return dw_die_skip(cu->dies, u, die);
	end = raw_walk_children(cu, die, f, depth);
	/* Where the next sibling is, libdwarf's way: DW_AT_sibling first. */
	if (end && dw_die_ref(cu->dies, u, &die->sibling, die->have & DW_HAVE_SIBLING,
			      &sib) && sib >= die->next && sib <= u->end)
		return sib;
	return end;
}

/*
 * Walk unit @u with dies.c (cu->rec, base, version and addr_size set);
 * false if it cannot be read, and what it added taken back.
 */
static bool raw_walk_unit(struct cu_ctx *cu, struct dw_unit *u)
{
	struct dw_binary *b = cu->b;
	guint funcs = b->funcs->len, globals = b->globals->len;
	struct dw_die die;

	if (u->unit_type == DW_UT_type || u->unit_type == DW_UT_split_type)
		return true;	/* types only: no function, no global */
	cu->unit = u;
	if (dw_die_read(cu->dies, u, u->die_off, &die, false) == 1 &&
	    raw_walk_children(cu, &die, NULL, 0))
		return true;
	g_ptr_array_remove_range(b->funcs, funcs, b->funcs->len - funcs);
	g_array_set_size(cu->rec->func_offs, 0);
	for (guint i = globals; i < b->globals->len; i++)
		free_var(&g_array_index(b->globals, struct dw_var, i));
	g_array_set_size(b->globals, globals);
	return false;
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

	for (guint i = 0; f->vars && i < f->vars->len; i++)
		free_var(&g_array_index(f->vars, struct dw_var, i));
	if (f->vars)
		g_array_free(f->vars, TRUE);
	free_loc(&f->frame_base);
	/* @f and its ranges are in the arena. */
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
	l->origins = g_hash_table_new(g_direct_hash, g_direct_equal);
	l->mem.blocks = g_ptr_array_new_with_free_func(g_free);
	l->mem.left = 0;
	return l;
}

static void late_free(struct dw_late *l)
{
	if (!l)
		return;
	g_ptr_array_free(l->cus, TRUE);
	g_hash_table_destroy(l->types);
	g_hash_table_destroy(l->origins);
	g_ptr_array_free(l->mem.blocks, TRUE);
	g_free(l);
}

/* Read the parameters and locals of @c's functions.  Call with cfi_lock held. */
static void read_cu_vars_locked(struct dw_binary *b, struct dw_cu *c)
{
	struct cu_ctx cu = {
		.b = b, .rec = c, .base = c->base,
		.version = c->version, .addr_size = c->addr_size,
	};
	g_auto(Dwarf_Error) err = NULL;
	Dwarf_Die die;

	/* dw_open() leaves @vars NULL: a function no one asks about costs nothing. */
	for (guint i = 0; i < c->func_offs->len; i++) {
		struct dw_func *f = g_ptr_array_index(b->funcs, c->first_func + i);

		f->vars = g_array_new(FALSE, FALSE, sizeof(struct dw_var));
	}
	if (dwarf_offdie_b(b->dbg, c->die_off, TRUE, &die, dw_err(&err)) == DW_DLV_OK) {
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

/*
 * The CFI, for DW_OP_call_frame_cfa: .debug_frame, else .eh_frame; read on
 * the first question (the Linux kernel's is 40,000 FDEs, and most runs
 * never evaluate a frame base through it).  Call with cfi_lock held.
 */
void dw_cfi_read_locked(struct dw_binary *b)
{
	g_auto(Dwarf_Error) err = NULL;

	if (b->cfi_read)
		return;
	b->cfi_read = true;
	if (dwarf_get_fde_list(b->dbg, &b->cies, &b->n_cies, &b->fdes, &b->n_fdes,
			       dw_err(&err)) != DW_DLV_OK &&
	    dwarf_get_fde_list_eh(b->dbg, &b->cies, &b->n_cies, &b->fdes,
				  &b->n_fdes, dw_err(&err)) != DW_DLV_OK) {
		b->cies = NULL;
		b->fdes = NULL;
	}
}

/*
 * @path's ELF machine: what its DWARF register numbers mean.  0 if it
 * cannot be read; dwarf_init_path() then says what is wrong with the file.
 */
static uint16_t elf_machine(const char *path)
{
	GElf_Ehdr eh;
	uint16_t m = 0;
	Elf *elf;
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (elf && gelf_getehdr(elf, &eh))
		m = eh.e_machine;
	elf_end(elf);
	close(fd);
	return m;
}

struct dw_binary *dw_open(const char *path, uint64_t bias, char **err)
{
	return dw_open_flags(path, bias, 0, err);
}

struct dw_binary *dw_open_flags(const char *path, uint64_t bias, unsigned int flags,
				char **err)
{
	struct dw_binary *b = g_new0(struct dw_binary, 1);
	struct dw_build bd;
	g_auto(Dwarf_Error) derr = NULL;
	struct dw_dies *dies = NULL;
	g_autoptr(GArray) scratch = g_array_new(FALSE, FALSE, sizeof(struct dw_range));
	Dwarf_Unsigned cu_off = 0, next = 0;
	guint n_broken = 0;
	uint64_t first_broken = 0;
	int rc;

	dw_lines_init(&bd, b);
	b->path = g_strdup(path);
	b->bias = bias;
	b->machine = elf_machine(path);
	g_mutex_init(&b->cfi_lock);
	b->strs = g_string_chunk_new(4096);
	b->rows = g_array_new(FALSE, FALSE, sizeof(struct dw_row));
	b->funcs = g_ptr_array_new_with_free_func(free_func);
	b->globals = g_array_new(FALSE, FALSE, sizeof(struct dw_var));
	b->late = late_new();

	/*
	 * libdwarf can record every object it hands out, so that
	 * dwarf_finish() frees what the caller did not; the record (a hash
	 * of every line-table row, DIE, attribute ...) costs more than the
	 * reading itself: 4 s of the 7 s the Linux kernel's vmlinux took.
	 * Off, then: this file and lines.c give back every object they are
	 * handed, the error objects of failed calls included (dw_err();
	 * valgrind finds nothing lost over dw_open(), dw_read_vars() of every
	 * function and dw_close() of the test binaries).
	 */
	dwarf_set_de_alloc_flag(0);
	rc = dw_elfsrc_open(path, &b->dbg, &b->src, err);
	if (rc && rc != -ENOTSUP) {
		b->dbg = NULL;
		goto fail;
	}
	if (rc)
		rc = dwarf_init_path(path, NULL, 0, DW_DLC_READ, DW_GROUPNUMBER_ANY,
				     NULL, NULL, &b->dbg, NULL, 0, NULL, dw_err(&derr));
	if (rc != DW_DLV_OK) {
		*err = g_strdup_printf("%s: %s", path, rc == DW_DLV_NO_ENTRY ?
				       "no DWARF debug information" :
				       dwarf_errmsg(derr));
		b->dbg = NULL;
		goto fail;
	}
	if (!(flags & DW_OPEN_LIBDWARF_WALK))
		dies = dw_dies_new(b->src);

	/*
	 * libdwarf reads the unit headers and gives each unit DIE (the line
	 * tables are read from it); the DIEs below are walked by dies.c
	 * where it can, else by libdwarf.
	 */
	for (;; cu_off = next) {
		Dwarf_Unsigned hlen, typeoff;
		Dwarf_Half version, addr_size, len_size, ext_size, hdr_type;
		Dwarf_Off abbrev;
		Dwarf_Sig8 sig;
		Dwarf_Die cu_die = NULL;
		struct cu_ctx cu = { .b = b, .bd = &bd, .dies = dies, .scratch = scratch };
		struct dw_unit *u = NULL;
		struct dw_cu *rec;
		Dwarf_Addr base;
		Dwarf_Off off;
		guint before = b->funcs->len;

		rc = dwarf_next_cu_header_d(b->dbg, TRUE, &hlen, &version, &abbrev,
					    &addr_size, &len_size, &ext_size, &sig,
					    &typeoff, &next, &hdr_type, dw_err(&derr));
		if (rc == DW_DLV_NO_ENTRY)
			break;
		if (rc != DW_DLV_OK) {
			*err = g_strdup_printf("%s: %s", path, dwarf_errmsg(derr));
			goto fail;
		}
		if (dwarf_siblingof_b(b->dbg, NULL, TRUE, &cu_die,
				      dw_err(&derr)) != DW_DLV_OK)
			continue;
		if (dwarf_dieoffset(cu_die, &off, dw_err(&derr)) != DW_DLV_OK) {
			dwarf_dealloc_die(cu_die);
			continue;
		}
		cu.version = version;
		cu.addr_size = addr_size;
		if (dwarf_lowpc(cu_die, &base, dw_err(&derr)) == DW_DLV_OK)
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
		dw_lines_read(&bd, cu_die);
		if (dies)
			u = dw_dies_unit_of(dies, cu_off);
		if (!u || u->off != cu_off || u->version != version ||
		    u->addr_size != addr_size) {
			walk_children(&cu, cu_die, NULL, NULL, 0);
			b->units_libdwarf++;
		} else if (!dw_dies_unit_ready(dies, u) || !raw_walk_unit(&cu, u)) {
			/* A unit it cannot read is skipped: libdwarf might crash on it. */
			if (!n_broken++)
				first_broken = cu_off;
		} else {
			b->units_own++;
		}
		if (u)
			dw_dies_unit_done(dies, u);
		if (!b->addr_size && b->funcs->len > before)
			b->addr_size = addr_size;
		dwarf_dealloc_die(cu_die);
	}
	dw_dies_free(dies);
	dies = NULL;
	if (n_broken) {
		g_autofree char *w = g_strdup_printf("%u compile unit%s skipped: "
			"DIEs unreadable (the first at .debug_info+0x%" PRIx64 ")",
			n_broken, n_broken > 1 ? "s" : "", first_broken);

		dw_warn(b, w);
	}
	if (!b->addr_size)
		b->addr_size = 4;

	dw_lines_merge(&bd);
	b->pc_map = dw_pcmap_new(b, dw_segs_build(b, true));
	b->osegs = dw_segs_build(b, false);
	b->oseg_map = dw_amap_new(b->osegs->data, sizeof(struct dw_seg), b->osegs->len);
	for (guint i = 0; i < b->funcs->len; i++) {
		struct dw_func *f = g_ptr_array_index(b->funcs, i);

		if (!f->inlined)
			dw_post_prologue(&bd, f);
	}
	dw_lines_free(&bd);
	return b;

fail:
	dw_dies_free(dies);
	dw_error_clear(&derr);		/* before dw_close() finishes its dbg */
	dw_lines_free(&bd);
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
	dw_elfsrc_close(b->src);
	if (b->globals) {
		for (guint i = 0; i < b->globals->len; i++)
			free_var(&g_array_index(b->globals, struct dw_var, i));
		g_array_free(b->globals, TRUE);
	}
	if (b->funcs)
		g_ptr_array_free(b->funcs, TRUE);
	late_free(b->late);
	if (b->osegs)
		g_array_free(b->osegs, TRUE);
	if (b->rows)
		g_array_free(b->rows, TRUE);
	dw_pcmap_free(b->pc_map);
	if (b->files)
		g_ptr_array_free(b->files, TRUE);
	dw_amap_free(b->oseg_map);
	if (b->strs)
		g_string_chunk_free(b->strs);
	g_mutex_clear(&b->cfi_lock);
	g_free(b->warning);
	g_free(b->path);
	g_free(b);
}

