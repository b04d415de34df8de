// SPDX-License-Identifier: MIT
/*
 * eval.c - evaluate DWARF location expressions for the current pc and
 * registers: a small stack machine over the operations compilers emit for
 * variables (DW_OP_addr, fbreg, reg/breg, constants, arithmetic, deref,
 * stack_value, implicit_value, call_frame_cfa).  A location in pieces or
 * one that needs an entry value is reported as LocErr.
 */
#include <string.h>

#include "dwarfp.h"

#define STACK_MAX 32

static const struct dw_locexpr *pick(const struct dw_loc *loc, uint64_t addr)
{
	if (loc->whole)
		return loc->n ? &loc->e[0] : NULL;
	for (uint32_t i = 0; i < loc->n; i++)
		if (addr >= loc->e[i].lo && addr < loc->e[i].hi)
			return &loc->e[i];
	return NULL;
}

static uint64_t mask(const struct dw_binary *b, uint64_t v)
{
	return b->addr_size == 4 ? (uint32_t)v : v;
}

int dw_cfa(struct dw_binary *b, uint64_t addr, const struct dw_guest *g,
	   uint64_t *cfa)
{
	Dwarf_Fde fde;
	Dwarf_Addr lo, hi, row_pc, next_pc;
	Dwarf_Small vtype;
	Dwarf_Signed offrel, reg, off;
	Dwarf_Ptr block;
	Dwarf_Bool more;
	Dwarf_Error err = NULL;
	uint64_t v;
	int rc = -1;

	g_mutex_lock(&b->cfi_lock);
	dw_cfi_read_locked(b);
	if (!b->fdes ||
	    dwarf_get_fde_at_pc(b->fdes, addr, &fde, &lo, &hi, &err) != DW_DLV_OK)
		goto out;
	if (dwarf_get_fde_info_for_cfa_reg3_b(fde, addr, &vtype, &offrel, &reg,
					      &off, &block, &row_pc, &more,
					      &next_pc, &err) != DW_DLV_OK)
		goto out;
	/* Only "register + offset" CFAs: what GCC and clang emit for x86. */
	if (vtype != DW_EXPR_OFFSET || g->reg(g->ctx, reg, &v))
		goto out;
	*cfa = mask(b, v + (offrel ? off : 0));
	rc = 0;
out:
	if (err)	/* ours to free: see dw_open() */
		dwarf_dealloc_error(b->dbg, err);
	g_mutex_unlock(&b->cfi_lock);
	return rc;
}

static int frame_base(struct dw_binary *b, const struct dw_func *fn,
		      uint64_t addr, const struct dw_guest *g, uint64_t *fb)
{
	LocType t;
	uint64_t v;

	if (!fn)
		return -1;
	if (dw_eval(b, NULL, &fn->frame_base, addr, g, &t, &v))
		return -1;
	if (t == LocMem) {
		/* frame_base's "address" is the base itself, not a memory cell */
		*fb = v;
		return 0;
	}
	if (t == LocReg)	/* DW_OP_regN: the register's value is the base */
		return g->reg(g->ctx, v, fb) ? -1 : (*fb = mask(b, *fb), 0);
	return -1;
}

int dw_eval(struct dw_binary *b, const struct dw_func *fn,
	    const struct dw_loc *loc, uint64_t addr, const struct dw_guest *g,
	    LocType *type, uint64_t *val)
{
	const struct dw_locexpr *e;
	uint64_t st[STACK_MAX], v, fb;
	unsigned int sp = 0;
	bool is_value = false;

	if (loc->is_const) {
		*type = LocConst;
		*val = loc->value;
		return 0;
	}
	e = pick(loc, addr);
	if (!e)
		return -1;
	if (!e->n_ops) {	/* an empty expression: optimized out here */
		return -1;
	}
	/* A lone register operation names the register itself. */
	if (e->n_ops == 1 && e->ops[0].atom >= DW_OP_reg0 &&
	    e->ops[0].atom <= DW_OP_reg31) {
		*type = LocReg;
		*val = e->ops[0].atom - DW_OP_reg0;
		return 0;
	}
	if (e->n_ops == 1 && e->ops[0].atom == DW_OP_regx) {
		*type = LocReg;
		*val = e->ops[0].op1;
		return 0;
	}

#define PUSH(x) do { if (sp >= STACK_MAX) goto err; st[sp++] = (x); } while (0)
#define POP(x) do { if (!sp) goto err; (x) = st[--sp]; } while (0)
	for (uint32_t i = 0; i < e->n_ops; i++) {
		const struct dw_op *op = &e->ops[i];
		uint8_t a = op->atom;
		uint64_t x, y;

		if (a >= DW_OP_lit0 && a <= DW_OP_lit31) {
			PUSH(a - DW_OP_lit0);
		} else if (a >= DW_OP_breg0 && a <= DW_OP_breg31) {
			if (g->reg(g->ctx, a - DW_OP_breg0, &v))
				goto err;
			PUSH(mask(b, v + op->op1));
		} else if (a >= DW_OP_reg0 && a <= DW_OP_reg31) {
			goto err;	/* a register in a composite: pieces */
		} else {
			switch (a) {
			case DW_OP_addr:
				PUSH(op->op1 + g->bias);
				break;
			case DW_OP_const1u: case DW_OP_const2u: case DW_OP_const4u:
			case DW_OP_const8u: case DW_OP_constu:
			case DW_OP_const1s: case DW_OP_const2s: case DW_OP_const4s:
			case DW_OP_const8s: case DW_OP_consts:
				PUSH(op->op1);
				break;
			case DW_OP_bregx:
				if (g->reg(g->ctx, op->op1, &v))
					goto err;
				PUSH(mask(b, v + op->op2));
				break;
			case DW_OP_fbreg:
				if (frame_base(b, fn, addr, g, &fb))
					goto err;
				PUSH(mask(b, fb + op->op1));
				break;
			case DW_OP_call_frame_cfa:
				if (dw_cfa(b, addr, g, &v))
					goto err;
				PUSH(v);
				break;
			case DW_OP_dup:
				if (!sp)
					goto err;
				x = st[sp - 1];
				PUSH(x);
				break;
			case DW_OP_drop:
				POP(x);
				break;
			case DW_OP_plus_uconst:
				POP(x);
				PUSH(mask(b, x + op->op1));
				break;
			case DW_OP_plus: POP(y); POP(x); PUSH(mask(b, x + y)); break;
			case DW_OP_minus: POP(y); POP(x); PUSH(mask(b, x - y)); break;
			case DW_OP_mul: POP(y); POP(x); PUSH(mask(b, x * y)); break;
			case DW_OP_and: POP(y); POP(x); PUSH(x & y); break;
			case DW_OP_or: POP(y); POP(x); PUSH(x | y); break;
			case DW_OP_xor: POP(y); POP(x); PUSH(x ^ y); break;
			case DW_OP_neg: POP(x); PUSH(mask(b, -x)); break;
			case DW_OP_not: POP(x); PUSH(mask(b, ~x)); break;
			case DW_OP_shl: POP(y); POP(x); PUSH(mask(b, y < 64 ? x << y : 0)); break;
			case DW_OP_shr: POP(y); POP(x); PUSH(y < 64 ? x >> y : 0); break;
			case DW_OP_deref:
				POP(x);
				v = 0;
				if (g->mem(g->ctx, x, &v,
					   b->addr_size))
					goto err;
				PUSH(v);
				break;
			case DW_OP_stack_value:
				is_value = true;
				i = e->n_ops;	/* last operation of a value */
				break;
			case DW_OP_implicit_value:
				*type = LocConst;
				*val = op->op2;
				return 0;
			default:
				/* pieces, entry values, TLS, ... */
				goto err;
			}
		}
	}
#undef PUSH
#undef POP
	if (!sp)
		goto err;
	if (is_value) {
		*type = LocConst;
		*val = st[sp - 1];
		return 0;
	}
	*type = LocMem;
	*val = st[sp - 1];
	return 0;
err:
	*type = LocErr;
	*val = 0;
	return 0;
}
