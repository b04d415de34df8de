// SPDX-License-Identifier: MIT
/*
 * dies.c - dwarfp's own reader of .debug_info, for the walk that builds
 * the index (index.c): unit headers (DWARF 2 to 5, 32- and 64-bit),
 * abbreviation tables parsed once into arrays, every form read or stepped
 * over, and the attributes the index wants resolved through the string,
 * address and range sections.  It reads the sections where the file is
 * mapped (dw_elfsrc_section()), makes nothing per DIE, and checks every
 * read against the end of what it reads.
 *
 * Why not libdwarf: dwarf_child() and dwarf_siblingof_b() make an object
 * per DIE visited and find each attribute through the abbreviation again;
 * on the Linux kernel's vmlinux that walk was most of dw_open().  libdwarf
 * stays for what is read late (variables, locations, frame bases), for
 * the line tables and the CFI.
 */
#include <string.h>

#include "index.h"

/* Where die_read() keeps an attribute's value: what the walk asks of a DIE. */
enum slot {
	SLOT_NONE, SLOT_SIBLING, SLOT_NAME, SLOT_LOW_PC, SLOT_HIGH_PC, SLOT_RANGES,
	SLOT_ENTRY_PC, SLOT_ORIGIN, SLOT_SPEC, SLOT_LOCATION, SLOT_CONST_VALUE,
	SLOT_STR_OFFSETS_BASE, SLOT_ADDR_BASE, SLOT_RNGLISTS_BASE, SLOT_TYPE,
};

/* One attribute of an abbreviation. */
struct abbrev_attr {
	uint16_t at, form;
	int8_t size;			/* its value's size if fixed, else -1 */
	uint8_t slot;			/* enum slot */
	int64_t implicit;		/* DW_FORM_implicit_const's value */
};

/* One abbreviation: what a DIE with its code holds. */
struct abbrev {
	uint64_t code;
	uint16_t tag;
	bool children;
	bool wanted;			/* a tag whose attributes the walk reads */
	bool is_var;			/* a variable or parameter: read if asked */
	uint32_t first, n;		/* its attributes in the table's @attrs */
	int32_t size;			/* bytes of its attributes if all fixed; -1 */
	int32_t sib_at;			/* where DW_AT_sibling's value starts, if
					   only fixed-size ones come before; -1 */
	uint16_t sib_form;
};

/*
 * The abbreviations at one offset of .debug_abbrev, for one unit.  Its
 * arrays are kept when the unit is done and reused for the next unit's
 * (dw_dies' pool): a table's worth of malloc() per unit, among libdwarf's
 * many small ones, cost more than parsing it.
 */
struct abbrev_table {
	GArray *ab_arr, *attr_arr, *code_arr;	/* the storage of: */
	const struct abbrev *ab;
	guint n_ab;
	const struct abbrev_attr *attrs;
	const uint32_t *by_code;	/* code -> index + 1 in @ab, if codes are small */
	uint64_t n_code;
};

struct sect {
	const uint8_t *p;
	size_t size;
};

struct dw_dies {
	struct sect info, abbrev, str, line_str, str_offsets, addr, ranges, rnglists;
	GArray *units;			/* struct dw_unit, by offset */
	GPtrArray *pool;		/* struct abbrev_table * no unit holds */
};

/* -- reading bytes --------------------------------------------------------- */

static inline bool rd_n(const uint8_t **p, const uint8_t *end, unsigned n,
			uint64_t *v)
{
	uint64_t x = 0;

	if ((size_t)(end - *p) < n)
		return false;
	for (unsigned i = 0; i < n; i++)
		x |= (uint64_t)(*p)[i] << (8 * i);
	*p += n;
	*v = x;
	return true;
}

static inline bool rd_uleb(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	return dw_leb(p, end, v, false);
}

static inline bool rd_sleb(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	return dw_leb(p, end, (uint64_t *)v, true);
}

/* -- forms ------------------------------------------------------------------ */

/*
 * The size of @form's value in a unit of this shape when it does not
 * depend on the value: 0 for flag_present and implicit_const, -1 for the
 * variable-size forms, -2 for a form this reader does not know.
 */
static int form_fixed_size(uint16_t form, uint8_t addr_size, uint8_t offset_size,
			   uint8_t version)
{
	switch (form) {
	case DW_FORM_flag_present:
	case DW_FORM_implicit_const:
		return 0;
	case DW_FORM_addr:
		return addr_size;
	case DW_FORM_data1: case DW_FORM_ref1: case DW_FORM_flag:
	case DW_FORM_strx1: case DW_FORM_addrx1:
		return 1;
	case DW_FORM_data2: case DW_FORM_ref2: case DW_FORM_strx2: case DW_FORM_addrx2:
		return 2;
	case DW_FORM_strx3: case DW_FORM_addrx3:
		return 3;
	case DW_FORM_data4: case DW_FORM_ref4: case DW_FORM_strx4: case DW_FORM_addrx4:
	case DW_FORM_ref_sup4:
		return 4;
	case DW_FORM_data8: case DW_FORM_ref8: case DW_FORM_ref_sig8: case DW_FORM_ref_sup8:
		return 8;
	case DW_FORM_data16:
		return 16;
	case DW_FORM_ref_addr:
		return version <= 2 ? addr_size : offset_size;
	case DW_FORM_strp: case DW_FORM_line_strp: case DW_FORM_sec_offset:
	case DW_FORM_strp_sup: case DW_FORM_GNU_ref_alt: case DW_FORM_GNU_strp_alt:
		return offset_size;
	case DW_FORM_string: case DW_FORM_block: case DW_FORM_block1:
	case DW_FORM_block2: case DW_FORM_block4: case DW_FORM_exprloc:
	case DW_FORM_sdata: case DW_FORM_udata: case DW_FORM_ref_udata:
	case DW_FORM_strx: case DW_FORM_addrx: case DW_FORM_loclistx:
	case DW_FORM_rnglistx: case DW_FORM_GNU_addr_index: case DW_FORM_GNU_str_index:
	case DW_FORM_indirect:
		return -1;
	default:
		return -2;
	}
}

/*
 * Read one value of @form at *@p (DW_FORM_indirect resolved: @v->form is
 * the real form).  Numbers, addresses, offsets and indices go to @v->v;
 * a string's or a block's start to @v->ptr (a block's length to @v->v).
 */
static bool form_read(const struct dw_unit *u, uint16_t form, int64_t implicit,
		      const uint8_t **p, const uint8_t *end, struct dw_aval *v)
{
	uint64_t len;
	int fixed;

	for (int hops = 0; form == DW_FORM_indirect; hops++) {
		uint64_t f;

		if (hops > 2 || !rd_uleb(p, end, &f) || f > UINT16_MAX)
			return false;
		form = f;
	}
	v->form = form;
	v->ptr = NULL;
	switch (form) {
	case DW_FORM_implicit_const:
		v->v = (uint64_t)implicit;
		return true;
	case DW_FORM_flag_present:
		v->v = 1;
		return true;
	case DW_FORM_sdata: {
		int64_t s;

		if (!rd_sleb(p, end, &s))
			return false;
		v->v = (uint64_t)s;
		return true;
	}
	case DW_FORM_udata: case DW_FORM_ref_udata: case DW_FORM_strx:
	case DW_FORM_addrx: case DW_FORM_loclistx: case DW_FORM_rnglistx:
	case DW_FORM_GNU_addr_index: case DW_FORM_GNU_str_index:
		return rd_uleb(p, end, &v->v);
	case DW_FORM_string: {
		const uint8_t *z = memchr(*p, 0, end - *p);

		if (!z)
			return false;
		v->ptr = *p;
		v->v = z - *p;
		*p = z + 1;
		return true;
	}
	case DW_FORM_block1: case DW_FORM_block2: case DW_FORM_block4:
	case DW_FORM_block: case DW_FORM_exprloc:
		if (form == DW_FORM_block1 || form == DW_FORM_block2 ||
		    form == DW_FORM_block4) {
			unsigned n = form == DW_FORM_block1 ? 1 :
				     form == DW_FORM_block2 ? 2 : 4;

			if (!rd_n(p, end, n, &len))
				return false;
		} else if (!rd_uleb(p, end, &len)) {
			return false;
		}
		if (len > (uint64_t)(end - *p))
			return false;
		v->ptr = *p;
		v->v = len;
		*p += len;
		return true;
	case DW_FORM_data16:
		if (end - *p < 16)
			return false;
		v->ptr = *p;
		v->v = 16;
		*p += 16;
		return true;
	default:
		fixed = form_fixed_size(form, u->addr_size, u->offset_size, u->version);
		if (fixed < 0 || fixed > 8)
			return false;
		return rd_n(p, end, fixed, &v->v);
	}
}

/* -- abbreviations ---------------------------------------------------------- */

/*
 * The tags whose attributes the index's walk reads; others it steps over
 * (variables and parameters: only where the walk says it wants them).
 */
static bool tag_wanted(uint16_t tag)
{
	switch (tag) {
	case DW_TAG_compile_unit: case DW_TAG_partial_unit: case DW_TAG_skeleton_unit:
	case DW_TAG_subprogram: case DW_TAG_inlined_subroutine:
	case DW_TAG_lexical_block:
		return true;
	default:
		return false;
	}
}

static void table_free(void *p)
{
	struct abbrev_table *t = p;

	g_array_free(t->ab_arr, TRUE);
	g_array_free(t->attr_arr, TRUE);
	g_array_free(t->code_arr, TRUE);
	g_free(t);
}

static uint8_t attr_slot(uint16_t at)
{
	switch (at) {
	case DW_AT_sibling: return SLOT_SIBLING;
	case DW_AT_name: return SLOT_NAME;
	case DW_AT_low_pc: return SLOT_LOW_PC;
	case DW_AT_high_pc: return SLOT_HIGH_PC;
	case DW_AT_ranges: return SLOT_RANGES;
	case DW_AT_entry_pc: return SLOT_ENTRY_PC;
	case DW_AT_abstract_origin: return SLOT_ORIGIN;
	case DW_AT_specification: return SLOT_SPEC;
	case DW_AT_location: return SLOT_LOCATION;
	case DW_AT_const_value: return SLOT_CONST_VALUE;
	case DW_AT_type: return SLOT_TYPE;
	case DW_AT_str_offsets_base: return SLOT_STR_OFFSETS_BASE;
	case DW_AT_addr_base: case DW_AT_GNU_addr_base: return SLOT_ADDR_BASE;
	case DW_AT_rnglists_base: return SLOT_RNGLISTS_BASE;
	default: return SLOT_NONE;
	}
}

/* Parse the abbreviations at @off for units shaped as @u into @t; false if broken. */
static bool table_parse(struct abbrev_table *t, const struct dw_dies *d,
			const struct dw_unit *u, uint64_t off)
{
	const uint8_t *p, *end = d->abbrev.p + d->abbrev.size;
	GArray *ab = t->ab_arr, *attrs = t->attr_arr, *codes = t->code_arr;
	uint64_t max_code = 0;

	if (off >= d->abbrev.size)
		return false;
	g_array_set_size(ab, 0);
	g_array_set_size(attrs, 0);
	p = d->abbrev.p + off;
	/* Each abbreviation takes at least 4 bytes: the section bounds the loop. */
	for (;;) {
		struct abbrev *a;
		uint64_t code, tag;
		int32_t size = 0;

		if (!rd_uleb(&p, end, &code))
			return false;
		if (!code)
			break;
		if (!rd_uleb(&p, end, &tag) || tag > UINT16_MAX || p >= end)
			return false;
		g_array_set_size(ab, ab->len + 1);
		a = &g_array_index(ab, struct abbrev, ab->len - 1);
		a->code = code;
		a->tag = tag;
		a->children = *p++ != 0;
		a->wanted = tag_wanted(a->tag);
		a->is_var = tag == DW_TAG_variable || tag == DW_TAG_formal_parameter;
		a->first = attrs->len;
		a->sib_at = -1;
		for (;;) {
			struct abbrev_attr *at;
			uint64_t name, form;
			int fs;

			if (!rd_uleb(&p, end, &name) || !rd_uleb(&p, end, &form))
				return false;
			if (!name && !form)
				break;
			if (name > UINT16_MAX || form > UINT16_MAX)
				return false;
			fs = form_fixed_size(form, u->addr_size, u->offset_size, u->version);
			if (fs == -2)
				return false;	/* a form we cannot step over */
			g_array_set_size(attrs, attrs->len + 1);
			at = &g_array_index(attrs, struct abbrev_attr, attrs->len - 1);
			at->at = name;
			at->form = form;
			at->size = fs;
			at->slot = attr_slot(at->at);
			at->implicit = 0;
			if (form == DW_FORM_implicit_const && !rd_sleb(&p, end, &at->implicit))
				return false;
			if (at->at == DW_AT_sibling && size >= 0 && fs > 0) {
				a->sib_at = size;
				a->sib_form = at->form;
			}
			size = fs >= 0 && size >= 0 ? size + fs : -1;
		}
		a->n = attrs->len - a->first;
		a->size = size;
		max_code = MAX(max_code, code);
	}
	t->ab = (const struct abbrev *)ab->data;
	t->n_ab = ab->len;
	t->attrs = (const struct abbrev_attr *)attrs->data;
	t->by_code = NULL;
	/* Codes are 1, 2, 3 ... as compilers number them: a direct table. */
	if (max_code <= 4 * (uint64_t)t->n_ab + 64) {
		uint32_t *by_code;

		t->n_code = max_code + 1;
		g_array_set_size(codes, t->n_code);
		by_code = (uint32_t *)codes->data;
		memset(by_code, 0, t->n_code * sizeof(*by_code));
		for (guint i = 0; i < t->n_ab; i++)
			if (!by_code[t->ab[i].code])
				by_code[t->ab[i].code] = i + 1;
		t->by_code = by_code;
	}
	return true;
}

static const struct abbrev *abbrev_find(const struct abbrev_table *t, uint64_t code)
{
	if (t->by_code) {
		uint32_t i = code < t->n_code ? t->by_code[code] : 0;

		return i ? &t->ab[i - 1] : NULL;
	}
	for (guint i = 0; i < t->n_ab; i++)	/* sparse codes: rare */
		if (t->ab[i].code == code)
			return &t->ab[i];
	return NULL;
}

/* -- units ------------------------------------------------------------------ */

/* Parse the unit header at @off into @u; the offset of the next one in *@next. */
static bool unit_header(const struct dw_dies *d, uint64_t off, struct dw_unit *u,
			uint64_t *next)
{
	const uint8_t *p = d->info.p + off, *end = d->info.p + d->info.size;
	uint64_t len, v, ab;

	memset(u, 0, sizeof(*u));
	u->off = off;
	if (!rd_n(&p, end, 4, &len))
		return false;
	u->offset_size = 4;
	if (len == 0xffffffff) {
		if (!rd_n(&p, end, 8, &len))
			return false;
		u->offset_size = 8;
	} else if (len >= 0xfffffff0) {
		return false;
	}
	if (len > (uint64_t)(end - p))
		return false;
	u->end = (p - d->info.p) + len;
	*next = u->end;
	end = p + len;
	if (!rd_n(&p, end, 2, &v) || v < 2 || v > 5)
		return false;
	u->version = v;
	if (u->version >= 5) {
		if (!rd_n(&p, end, 1, &v))
			return false;
		u->unit_type = v;
		if (!rd_n(&p, end, 1, &v) || !rd_n(&p, end, u->offset_size, &ab))
			return false;
		u->addr_size = v;
		switch (u->unit_type) {
		case DW_UT_compile: case DW_UT_partial:
			break;
		case DW_UT_skeleton: case DW_UT_split_compile:
			if (!rd_n(&p, end, 8, &v))
				return false;
			break;
		case DW_UT_type: case DW_UT_split_type:
			if (!rd_n(&p, end, 8, &v) || !rd_n(&p, end, u->offset_size, &v))
				return false;
			break;
		default:
			return false;
		}
	} else {
		u->unit_type = DW_UT_compile;
		if (!rd_n(&p, end, u->offset_size, &ab) || !rd_n(&p, end, 1, &v))
			return false;
		u->addr_size = v;
	}
	if (u->addr_size != 2 && u->addr_size != 4 && u->addr_size != 8)
		return false;
	u->abbrev_off = ab;
	u->die_off = p - d->info.p;
	return true;
}

/*
 * The abbreviations @u uses, parsed on first use.  Each unit has its own
 * (compilers give each its own offset): dw_dies_unit_done() gives them
 * back, so the reader holds a unit's at a time, not the whole section's.
 */
static const struct abbrev_table *unit_table(struct dw_dies *d, struct dw_unit *u)
{
	struct abbrev_table *t;

	if (u->table)
		return u->table;
	if (d->pool->len) {
		t = g_ptr_array_steal_index_fast(d->pool, d->pool->len - 1);
	} else {
		t = g_new0(struct abbrev_table, 1);
		t->ab_arr = g_array_new(FALSE, FALSE, sizeof(struct abbrev));
		t->attr_arr = g_array_new(FALSE, FALSE, sizeof(struct abbrev_attr));
		t->code_arr = g_array_new(FALSE, FALSE, sizeof(uint32_t));
	}
	if (!table_parse(t, d, u, u->abbrev_off)) {
		g_ptr_array_add(d->pool, t);
		return NULL;
	}
	u->table = t;
	return t;
}

void dw_dies_unit_done(struct dw_dies *d, struct dw_unit *u)
{
	if (u->table)
		g_ptr_array_add(d->pool, (void *)u->table);
	u->table = NULL;
}

struct dw_dies *dw_dies_new(const struct dw_elfsrc *src)
{
	struct dw_dies *d;
	uint64_t off = 0, next;

	if (!src)
		return NULL;
	d = g_new0(struct dw_dies, 1);
	d->info.p = dw_elfsrc_section(src, ".debug_info", &d->info.size);
	d->abbrev.p = dw_elfsrc_section(src, ".debug_abbrev", &d->abbrev.size);
	if (!d->info.p || !d->abbrev.p) {
		g_free(d);
		return NULL;
	}
	d->str.p = dw_elfsrc_section(src, ".debug_str", &d->str.size);
	d->line_str.p = dw_elfsrc_section(src, ".debug_line_str", &d->line_str.size);
	d->str_offsets.p = dw_elfsrc_section(src, ".debug_str_offsets",
					     &d->str_offsets.size);
	d->addr.p = dw_elfsrc_section(src, ".debug_addr", &d->addr.size);
	d->ranges.p = dw_elfsrc_section(src, ".debug_ranges", &d->ranges.size);
	d->rnglists.p = dw_elfsrc_section(src, ".debug_rnglists", &d->rnglists.size);
	d->units = g_array_new(FALSE, FALSE, sizeof(struct dw_unit));
	d->pool = g_ptr_array_new_with_free_func(table_free);
	/* Every header, up front: a reference may lead into any unit. */
	while (off < d->info.size) {
		struct dw_unit u;

		if (!unit_header(d, off, &u, &next))
			break;	/* the rest is unreadable: no unit there */
		g_array_append_val(d->units, u);
		off = next;
	}
	return d;
}

void dw_dies_free(struct dw_dies *d)
{
	if (!d)
		return;
	for (guint i = 0; i < d->units->len; i++)
		dw_dies_unit_done(d, &g_array_index(d->units, struct dw_unit, i));
	g_array_free(d->units, TRUE);
	g_ptr_array_free(d->pool, TRUE);
	g_free(d);
}

/* Read the unit DIE's bases of @u (str_offsets_base ...) once. */
static bool unit_bases(struct dw_dies *d, struct dw_unit *u)
{
	struct dw_die die;

	if (u->bases_read)
		return u->bases_ok && unit_table(d, u);
	u->bases_read = true;
	if (!unit_table(d, u) || dw_die_read(d, u, u->die_off, &die, false) != 1)
		return false;
	u->bases_ok = true;
	return true;
}

struct dw_unit *dw_dies_unit_of(struct dw_dies *d, uint64_t off)
{
	guint lo = 0, hi = d->units->len;

	while (lo < hi) {
		guint mid = lo + (hi - lo) / 2;
		struct dw_unit *u = &g_array_index(d->units, struct dw_unit, mid);

		if (off < u->off)
			hi = mid;
		else if (off >= u->end)
			lo = mid + 1;
		else
			return u;
	}
	return NULL;
}

bool dw_dies_unit_ready(struct dw_dies *d, struct dw_unit *u)
{
	return unit_bases(d, u);
}

struct dw_unit *dw_dies_unit(struct dw_dies *d, uint64_t off)
{
	struct dw_unit *u = dw_dies_unit_of(d, off);

	return u && unit_bases(d, u) ? u : NULL;
}

/* -- DIEs ------------------------------------------------------------------- */

/* Keep what the walk asks of a DIE; the unit DIE's bases go to @u. */
static void die_keep(struct dw_unit *u, struct dw_die *die, uint8_t slot,
		     const struct dw_aval *v)
{
	switch (slot) {
	case SLOT_SIBLING: die->sibling = *v; die->have |= DW_HAVE_SIBLING; break;
	case SLOT_NAME: die->name = *v; die->have |= DW_HAVE_NAME; break;
	case SLOT_LOW_PC: die->low_pc = *v; die->have |= DW_HAVE_LOW_PC; break;
	case SLOT_HIGH_PC: die->high_pc = *v; die->have |= DW_HAVE_HIGH_PC; break;
	case SLOT_RANGES: die->ranges = *v; die->have |= DW_HAVE_RANGES; break;
	case SLOT_ENTRY_PC: die->entry_pc = *v; die->have |= DW_HAVE_ENTRY_PC; break;
	case SLOT_ORIGIN: die->origin = *v; die->have |= DW_HAVE_ORIGIN; break;
	case SLOT_SPEC: die->spec = *v; die->have |= DW_HAVE_SPEC; break;
	case SLOT_LOCATION: die->location = *v; die->have |= DW_HAVE_LOCATION; break;
	case SLOT_TYPE: die->type = *v; die->have |= DW_HAVE_TYPE; break;
	case SLOT_CONST_VALUE: die->have |= DW_HAVE_CONST_VALUE; break;
	case SLOT_STR_OFFSETS_BASE:
		if (!u->bases_ok)
			u->str_offsets_base = v->v, u->has_str_offsets_base = true;
		break;
	case SLOT_ADDR_BASE:
		if (!u->bases_ok)
			u->addr_base = v->v, u->has_addr_base = true;
		break;
	case SLOT_RNGLISTS_BASE:
		if (!u->bases_ok)
			u->rnglists_base = v->v, u->has_rnglists_base = true;
		break;
	default:
		break;
	}
}

static int die_read(const struct dw_dies *d, struct dw_unit *u, uint64_t off,
		    struct dw_die *die, bool vars, bool all)
{
	const uint8_t *p = d->info.p + off, *end = d->info.p + u->end;
	const struct abbrev_table *t = u->table;
	const struct abbrev *a;
	uint64_t code;
	bool want;

	die->off = off;
	die->have = 0;
	if (off < u->die_off || off >= u->end || !rd_uleb(&p, end, &code))
		return -1;
	if (!code) {
		die->next = p - d->info.p;
		return 0;
	}
	a = abbrev_find(t, code);
	if (!a)
		return -1;
	die->tag = a->tag;
	die->children = a->children;
	want = a->wanted || all || (vars && a->is_var);
	if (!want) {
		/* Only its end, or its sibling: the walk steps over it. */
		if (a->size >= 0) {
			if (a->size > end - p)
				return -1;
			if (a->sib_at >= 0) {
				const uint8_t *q = p + a->sib_at;

				die->sibling.form = a->sib_form;
				rd_n(&q, end, form_fixed_size(a->sib_form, u->addr_size,
							      u->offset_size, u->version),
				     &die->sibling.v);
				die->have |= DW_HAVE_SIBLING;
			}
			die->next = (p - d->info.p) + a->size;
			return 1;
		}
	}
	for (uint32_t i = 0; i < a->n; i++) {
		const struct abbrev_attr *s = &t->attrs[a->first + i];
		bool keep = s->slot && (want || s->slot == SLOT_SIBLING);
		struct dw_aval v;

		if (!keep && s->size >= 0) {
			if (s->size > end - p)
				return -1;
			p += s->size;
			continue;
		}
		if (!form_read(u, s->form, s->implicit, &p, end, &v))
			return -1;
		if (keep)
			die_keep(u, die, s->slot, &v);
	}
	die->next = p - d->info.p;
	return 1;
}

int dw_die_read(const struct dw_dies *d, struct dw_unit *u, uint64_t off,
		struct dw_die *die, bool vars)
{
	return die_read(d, u, off, die, vars, false);
}

int dw_die_read_all(const struct dw_dies *d, struct dw_unit *u, uint64_t off,
		    struct dw_die *die)
{
	return die_read(d, u, off, die, true, true);
}

/*
 * Where the DIE after @die's subtree starts: its DW_AT_sibling if that
 * points past it inside the unit (as libdwarf follows it), else past its
 * children, read through with a depth count (no recursion).  0 if broken.
 */
uint64_t dw_die_skip(const struct dw_dies *d, struct dw_unit *u,
		     const struct dw_die *die)
{
	uint64_t off = die->next, sib;
	unsigned level = 1;

	if (!die->children)
		return die->next;
	if (dw_die_ref(d, u, &die->sibling, die->have & DW_HAVE_SIBLING, &sib) &&
	    sib >= die->next && sib <= u->end)
		return sib;
	/* Each DIE read moves forward: the unit's end bounds the loop. */
	while (level) {
		struct dw_die c;
		int rc = dw_die_read(d, u, off, &c, false);

		if (rc < 0)
			return 0;
		if (!rc) {
			level--;
			off = c.next;
			continue;
		}
		if (c.children) {
			if (dw_die_ref(d, u, &c.sibling, c.have & DW_HAVE_SIBLING, &sib) &&
			    sib >= c.next && sib <= u->end) {
				off = sib;
				continue;
			}
			level++;
		}
		off = c.next;
		if (off >= u->end)
			return u->end;	/* libdwarf too ends a unit without its nulls */
	}
	return off;
}

/* -- attribute values --------------------------------------------------------- */

/* The NUL-terminated string at @off of @s, or NULL. */
static const char *sect_str(const struct sect *s, uint64_t off)
{
	if (!s->p || off >= s->size || !memchr(s->p + off, 0, s->size - off))
		return NULL;
	return (const char *)s->p + off;
}

/*
 * Entry @i, of @size bytes, of the table at @base in @s (string offsets,
 * addresses, range list offsets); false if the unit has no @base or the
 * entry is outside the section.
 */
static bool table_entry(const struct sect *s, bool has_base, uint64_t base,
			uint64_t i, unsigned int size, uint64_t *out)
{
	const uint8_t *p;

	if (!has_base || !s->p || base > s->size || i > (s->size - base) / size)
		return false;
	p = s->p + base + i * size;
	return rd_n(&p, s->p + s->size, size, out);
}

const char *dw_die_str(const struct dw_dies *d, const struct dw_unit *u,
		       const struct dw_aval *v)
{
	uint64_t off;

	switch (v->form) {
	case DW_FORM_string:
		return (const char *)v->ptr;
	case DW_FORM_strp:
		return sect_str(&d->str, v->v);
	case DW_FORM_line_strp:
		return sect_str(&d->line_str, v->v);
	case DW_FORM_strx: case DW_FORM_strx1: case DW_FORM_strx2:
	case DW_FORM_strx3: case DW_FORM_strx4: case DW_FORM_GNU_str_index:
		if (!table_entry(&d->str_offsets, u->has_str_offsets_base,
				 u->str_offsets_base, v->v, u->offset_size, &off))
			return NULL;
		return sect_str(&d->str, off);
	default:
		return NULL;
	}
}

/* Entry @i of .debug_addr for @u. */
static bool addr_index(const struct dw_dies *d, const struct dw_unit *u,
		       uint64_t i, uint64_t *out)
{
	return table_entry(&d->addr, u->has_addr_base, u->addr_base, i,
			   u->addr_size, out);
}

bool dw_die_addr(const struct dw_dies *d, const struct dw_unit *u,
		 const struct dw_aval *v, bool have, uint64_t *out)
{
	if (!have)
		return false;
	switch (v->form) {
	case DW_FORM_addr:
		*out = v->v;
		return true;
	case DW_FORM_addrx: case DW_FORM_addrx1: case DW_FORM_addrx2:
	case DW_FORM_addrx3: case DW_FORM_addrx4: case DW_FORM_GNU_addr_index:
		return addr_index(d, u, v->v, out);
	default:
		return false;
	}
}

bool dw_die_const(const struct dw_aval *v, bool have, uint64_t *out)
{
	if (!have)
		return false;
	switch (v->form) {
	case DW_FORM_data1: case DW_FORM_data2: case DW_FORM_data4:
	case DW_FORM_data8: case DW_FORM_udata:
		*out = v->v;
		return true;
	case DW_FORM_sdata: case DW_FORM_implicit_const:
		/* As libdwarf's dwarf_formudata(): not a negative one. */
		if ((int64_t)v->v < 0)
			return false;
		*out = v->v;
		return true;
	default:
		return false;
	}
}

bool dw_die_ref(const struct dw_dies *d, const struct dw_unit *u,
		const struct dw_aval *v, bool have, uint64_t *out)
{
	if (!have)
		return false;
	switch (v->form) {
	case DW_FORM_ref1: case DW_FORM_ref2: case DW_FORM_ref4:
	case DW_FORM_ref8: case DW_FORM_ref_udata:
		if (v->v >= u->end - u->off)
			return false;
		*out = u->off + v->v;
		return true;
	case DW_FORM_ref_addr:
		if (v->v >= d->info.size)
			return false;
		*out = v->v;
		return true;
	default:
		return false;
	}
}

/* -- ranges ----------------------------------------------------------------- */

static void range_add(GArray *r, uint64_t lo, uint64_t hi)
{
	if (hi > lo)
		g_array_append_val(r, ((struct dw_range){ lo, hi }));
}

/* A DWARF 2-4 range list at @off of .debug_ranges. */
static bool ranges_v4(const struct dw_dies *d, const struct dw_unit *u,
		      uint64_t off, uint64_t base, GArray *r)
{
	const uint8_t *p, *end = d->ranges.p + d->ranges.size;
	uint64_t max = u->addr_size == 8 ? UINT64_MAX :
		       (UINT64_C(1) << (8 * u->addr_size)) - 1;

	if (!d->ranges.p || off >= d->ranges.size)
		return false;
	p = d->ranges.p + off;
	/* Each entry is two addresses: the section bounds the loop. */
	for (;;) {
		uint64_t a1, a2;

		if (!rd_n(&p, end, u->addr_size, &a1) || !rd_n(&p, end, u->addr_size, &a2))
			return false;
		if (!a1 && !a2)
			return true;
		if (a1 == max)
			base = a2;
		else
			range_add(r, base + a1, base + a2);
	}
}

/* A DWARF 5 range list at @off of .debug_rnglists. */
static bool ranges_v5(const struct dw_dies *d, const struct dw_unit *u,
		      uint64_t off, uint64_t base, GArray *r)
{
	const uint8_t *p, *end = d->rnglists.p + d->rnglists.size;

	if (!d->rnglists.p || off >= d->rnglists.size)
		return false;
	p = d->rnglists.p + off;
	/* Each entry takes a byte at least: the section bounds the loop. */
	for (;;) {
		uint64_t kind, a, b, lo, hi;
		bool ok = true;

		if (!rd_n(&p, end, 1, &kind))
			return false;
		switch (kind) {
		case DW_RLE_end_of_list:
			return true;
		case DW_RLE_base_addressx:
			if (!rd_uleb(&p, end, &a))
				return false;
			if (addr_index(d, u, a, &lo))
				base = lo;
			break;
		case DW_RLE_startx_endx:
			if (!rd_uleb(&p, end, &a) || !rd_uleb(&p, end, &b))
				return false;
			ok = addr_index(d, u, a, &lo) && addr_index(d, u, b, &hi);
			if (ok)
				range_add(r, lo, hi);
			break;
		case DW_RLE_startx_length:
			if (!rd_uleb(&p, end, &a) || !rd_uleb(&p, end, &b))
				return false;
			if (addr_index(d, u, a, &lo))
				range_add(r, lo, lo + b);
			break;
		case DW_RLE_offset_pair:
			if (!rd_uleb(&p, end, &a) || !rd_uleb(&p, end, &b))
				return false;
			range_add(r, base + a, base + b);
			break;
		case DW_RLE_base_address:
			if (!rd_n(&p, end, u->addr_size, &base))
				return false;
			break;
		case DW_RLE_start_end:
			if (!rd_n(&p, end, u->addr_size, &lo) ||
			    !rd_n(&p, end, u->addr_size, &hi))
				return false;
			range_add(r, lo, hi);
			break;
		case DW_RLE_start_length:
			if (!rd_n(&p, end, u->addr_size, &lo) || !rd_uleb(&p, end, &b))
				return false;
			range_add(r, lo, lo + b);
			break;
		default:
			return false;
		}
	}
}

bool dw_die_ranges(const struct dw_dies *d, const struct dw_unit *u,
		   const struct dw_die *die, uint64_t base, GArray *r)
{
	const struct dw_aval *v = &die->ranges;
	guint before = r->len;
	uint64_t off;
	bool ok;

	if (!(die->have & DW_HAVE_RANGES))
		return false;
	if (u->version >= 5) {
		if (v->form == DW_FORM_rnglistx) {
			/* An offset from the base, in the table at the base. */
			if (!table_entry(&d->rnglists, u->has_rnglists_base,
					 u->rnglists_base, v->v, u->offset_size, &off))
				return false;
			off += u->rnglists_base;
		} else if (v->form == DW_FORM_sec_offset) {
			off = v->v;
		} else {
			return false;
		}
		ok = ranges_v5(d, u, off, base, r);
	} else {
		if (v->form != DW_FORM_sec_offset && v->form != DW_FORM_data4 &&
		    v->form != DW_FORM_data8)
			return false;
		ok = ranges_v4(d, u, v->v, base, r);
	}
	/* A list that runs off its section is no list (as libdwarf says). */
	if (!ok)
		g_array_set_size(r, before);
	return ok;
}
