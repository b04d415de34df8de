// SPDX-License-Identifier: MIT
/*
 * Classify a block's last instruction as call, ret or other, with
 * capstone, in the mode the code runs in.
 *
 * The plugin API does not say whether a block is 16-, 32- or 64-bit code.
 * But QEMU has already decoded the block in the right mode and tells us
 * every instruction's length.  So we decode the block's instructions in
 * the modes the CPU can be in and take the first mode in which capstone
 * finds exactly QEMU's lengths.  Modes disagree on lengths for most code
 * (REX bytes are inc/dec outside 64-bit mode; immediates, displacements
 * and rel16/rel32 change size between 16 and 32 bits), so a block that
 * fits one mode fits it alone.
 *
 * A block that fits several (say, a lone "ret" or "call *%eax") is
 * decided by the CPU's state: a block is translated on its vCPU's thread
 * right before it first runs, so cr0, efer and eflags then are those the
 * block runs under.  Long mode (EFER.LMA) tries 64 first, then 32 and 16
 * (compatibility mode); protected mode 32 then 16; real and virtual-8086
 * mode 16 then 32.  The choice depends on the block and the CPU alone,
 * never on what was translated before, so a block retranslated after a
 * flush (every reload flushes all translated code) is decided as it was
 * the first time: a reload in the middle of a replay then sees the same
 * calls as a replay without it.  Where those registers cannot be read,
 * the mode of the last block this vCPU thread classified is tried first
 * (guests do not switch modes from one block to the next), handed from a
 * version to the next at a reload (state.c).
 *
 * Limits (README.md): in compatibility mode, a block that also fits
 * 64-bit code is taken for 64-bit code (the code segment's L bit, which
 * tells them apart, is not a register the plugin API shows); when no mode
 * fits (capstone and QEMU disagree, e.g. an instruction capstone 4 does
 * not know) only the last instruction is decoded, in the same order.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Enough instructions to tell the modes apart, bounded for long blocks. */
#define CSI_CHECK_INSNS 16

static const cs_mode cs_modes[] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };
static const unsigned int mode_bits[] = { 16, 32, 64 };

/*
 * Translation may run on several vCPU threads at once, and capstone
 * handles are not meant for concurrent use: one lock around decoding.
 * Translation is rare next to execution, so it is never contended long.
 */
static GMutex decode_lock;
static csh handles[3];
static cs_insn *scratch[3];
/*
 * The same modes without capstone's operand details: the lengths of the
 * instructions before the last, which are all mode_fits() needs of them.
 * Details cost about as much again as the decoding itself.
 */
static csh len_handles[3];
static cs_insn *len_scratch[3];
static GHashTable *sites;	/* struct csi_call_site -> itself */

/*
 * The mode this thread last classified in: tried first where the CPU's
 * mode cannot be read (see above).  -1 until the thread's first block,
 * which starts from mode_start: 32-bit, or after a reload the mode the
 * previous version was in.
 */
static __thread int mode_hint = -1;
static int mode_start = 1;

/* cr0 (PE), efer (LMA), eflags (VM): the CPU's mode at translation. */
static mh_reg *reg_cr0, *reg_efer, *reg_eflags;

#define CR0_PE		(1ull << 0)
#define EFER_LMA	(1ull << 10)
#define EFLAGS_VM	(1ull << 17)

unsigned int csi_decode_mode(void)
{
	return mode_bits[mode_hint < 0 ? mode_start : mode_hint];
}

void csi_decode_set_mode(unsigned int bits)
{
	for (int m = 0; m < 3; m++)
		if (mode_bits[m] == bits)
			mode_start = m;
}

static guint site_hash(gconstpointer p)
{
	const struct csi_call_site *s = p;

	return g_int64_hash(&s->ret) ^ g_int64_hash(&s->target) ^ s->push ^
	       g_direct_hash(s->treg) ^ g_int64_hash(&s->op.disp);
}

static gboolean site_equal(gconstpointer a, gconstpointer b)
{
	/* Keys are zeroed before they are filled: no stray padding. */
	return !memcmp(a, b, sizeof(struct csi_call_site));
}

const struct csi_call_site *csi_call_site(const struct csi_insn_class *c,
					  mh_reg *treg)
{
	struct csi_call_site key, *s;

	memset(&key, 0, sizeof(key));
	key.ret = c->next;
	key.target = c->target;
	key.push = c->push;
	key.mode = c->mode;
	key.asid_change = c->asid_change;
	key.imm = c->imm;
	key.treg = treg;
	key.op = c->op;

	g_mutex_lock(&decode_lock);
	s = g_hash_table_lookup(sites, &key);
	if (!s) {
		s = g_memdup2(&key, sizeof(key));
		g_hash_table_add(sites, s);
	}
	g_mutex_unlock(&decode_lock);
	return s;
}

/* A capstone handle for x86 in @mode, with operand details if @detail. */
static int handle_open(cs_mode mode, bool detail, csh *h, cs_insn **insn)
{
	if (cs_open(CS_ARCH_X86, mode, h) != CS_ERR_OK) {
		*h = 0;
		return -ENOMEM;
	}
	if (detail)
		cs_option(*h, CS_OPT_DETAIL, CS_OPT_ON);
	*insn = cs_malloc(*h);
	return *insn ? 0 : -ENOMEM;
}

static void handle_close(csh *h, cs_insn **insn)
{
	if (*insn)
		cs_free(*insn, 1);
	*insn = NULL;
	if (*h)
		cs_close(h);
	*h = 0;
}

int csi_decode_init(void)
{
	mode_start = 1;		/* a rollback runs init again */
	reg_cr0 = csi_mh->reg_lookup("cr0");
	reg_efer = csi_mh->reg_lookup("efer");
	reg_eflags = csi_mh->reg_lookup("eflags");
	sites = g_hash_table_new_full(site_hash, site_equal, g_free, NULL);
	for (int m = 0; m < 3; m++) {
		if (handle_open(cs_modes[m], true, &handles[m], &scratch[m]) ||
		    handle_open(cs_modes[m], false, &len_handles[m],
				&len_scratch[m])) {
			csi_decode_exit();
			return -ENOMEM;
		}
	}
	return 0;
}

void csi_decode_exit(void)
{
	g_clear_pointer(&sites, g_hash_table_unref);
	for (int m = 0; m < 3; m++) {
		handle_close(&handles[m], &scratch[m]);
		handle_close(&len_handles[m], &len_scratch[m]);
	}
}

/* Operand size of a near push in @mode with @insn's prefixes. */
static unsigned int operand_size(unsigned int mode, const cs_insn *insn,
				 bool far)
{
	const cs_x86 *x = &insn->detail->x86;
	bool opsize = x->prefix[2] == 0x66;

	if (mode == 64)
		return (!far || (x->rex & 8)) ? 8 : 4;
	if (mode == 32)
		return opsize ? 2 : 4;
	return opsize ? 4 : 2;
}

/*
 * Register @name if this QEMU shows it, else NULL.  Runs at translation,
 * on a vCPU thread: the lookup can be tried there.
 */
static mh_reg *shown_reg(const char *name)
{
	mh_reg *r = csi_mh->reg_lookup(name);
	uint64_t v;

	return csi_mh->reg_read(r, &v, sizeof(v)) == -ENOENT ? NULL : r;
}

/*
 * The register capstone calls @reg, by QEMU's x86_64 name (eax and r8d
 * are read as rax and r8, then masked), else its i386 name; NULL for
 * 8- and 16-bit registers and registers this QEMU does not show.
 */
static mh_reg *gpr(csh h, unsigned int reg)
{
	const char *name = cs_reg_name(h, reg);
	char full[8];
	size_t len = name ? strlen(name) : 0;
	mh_reg *r;

	if (len < 2 || len > 4 || (name[0] != 'r' && name[0] != 'e'))
		return NULL;
	if (name[0] == 'e' && len != 3)
		return NULL;
	if (name[0] == 'r' && (name[len - 1] == 'w' || name[len - 1] == 'b'))
		return NULL;
	g_strlcpy(full, name, sizeof(full));
	full[0] = 'r';
	if (full[len - 1] == 'd')
		full[len - 1] = 0;	/* r8d: r8 */
	if ((r = shown_reg(full)))
		return r;
	/* qemu-system-i386: eax ... esp only. */
	if (full[0] != 'r' || strlen(full) != 3 || full[1] == '1')
		return NULL;
	full[0] = 'e';
	return shown_reg(full);
}

/*
 * Where a call in 32- or 64-bit code finds its target: register or memory
 * operand @op of @insn, a pointer of @size bytes.  Leaves o->kind
 * CSI_OPND_NONE for what it cannot follow: 16-bit addressing, an 8- or
 * 16-bit register, an fs or gs base this QEMU does not show.
 */
static void operand_of(csh h, unsigned int mode, const cs_insn *insn,
		       const cs_x86_op *op, unsigned int size,
		       struct csi_operand *o)
{
	const cs_x86 *x = &insn->detail->x86;
	const x86_op_mem *m = &op->mem;

	memset(o, 0, sizeof(*o));
	o->vmask = csi_sp_mask(8 * size);
	o->lmask = csi_sp_mask(mode);
	if (op->type == X86_OP_REG) {
		o->reg = gpr(h, op->reg);
		o->kind = o->reg ? CSI_OPND_REG : CSI_OPND_NONE;
		return;
	}
	if (op->type != X86_OP_MEM || (x->addr_size != 4 && x->addr_size != 8))
		return;
	o->size = size;
	o->amask = csi_sp_mask(8 * x->addr_size);
	o->scale = m->scale;
	o->disp = (uint64_t)m->disp;
	if (m->segment == X86_REG_FS || m->segment == X86_REG_GS) {
		/* fs_base, gs_base: qemu-system-x86_64 shows them. */
		o->seg = shown_reg(m->segment == X86_REG_FS ? "fs_base" :
				   "gs_base");
		if (!o->seg)
			return;
	}
	if (m->base == X86_REG_RIP || m->base == X86_REG_EIP) {
		o->disp += insn->address + insn->size;
	} else if (m->base != X86_REG_INVALID) {
		o->reg = gpr(h, m->base);
		if (!o->reg)
			return;
	}
	if (m->index != X86_REG_INVALID) {
		o->index = gpr(h, m->index);
		if (!o->index)
			return;
	}
	o->kind = CSI_OPND_MEM;
}

bool csi_operand_value(const struct csi_operand *op, uint64_t *value)
{
	uint64_t a = 0, r = 0;

	switch (op->kind) {
	case CSI_OPND_REG:
		if (csi_mh->reg_read(op->reg, &r, sizeof(r)) <= 0)
			return false;
		*value = r & op->vmask;
		return true;
	case CSI_OPND_MEM:
		a = op->disp;
		if (op->reg) {
			if (csi_mh->reg_read(op->reg, &r, sizeof(r)) <= 0)
				return false;
			a += r;
		}
		if (op->index) {
			if (csi_mh->reg_read(op->index, &r, sizeof(r)) <= 0)
				return false;
			a += r * op->scale;
		}
		a &= op->amask;
		/* The segment base is added to the address-sized offset. */
		if (op->seg) {
			if (csi_mh->reg_read(op->seg, &r, sizeof(r)) <= 0)
				return false;
			a = (a + r) & op->lmask;
		}
		r = 0;
		if (csi_mh->mem_read(a, &r, op->size))
			return false;
		*value = GUINT64_FROM_LE(r) & op->vmask;
		return true;
	case CSI_OPND_IMM:
		*value = op->disp;
		return true;
	default:
		return false;
	}
}

static void classify_insn(csh h, unsigned int mode, const cs_insn *insn,
			  struct csi_insn_class *c)
{
	const cs_x86 *x = &insn->detail->x86;
	unsigned int imm = 0;

	c->mode = mode;
	c->next = insn->address + insn->size;
	c->kind = CSI_OTHER;
	c->push = c->imm = 0;
	c->asid_change = false;
	c->far = false;
	c->target = 0;
	memset(&c->op, 0, sizeof(c->op));
	switch (insn->id) {
	case X86_INS_MOV:
		/* QEMU ends a block after a control register write. */
		c->asid_change = x->op_count == 2 &&
				 x->operands[0].type == X86_OP_REG &&
				 x->operands[0].reg == X86_REG_CR3;
		break;
	case X86_INS_LJMP:
	case X86_INS_IRET:
	case X86_INS_IRETD:
	case X86_INS_IRETQ:
	case X86_INS_INT:
	case X86_INS_INT1:
	case X86_INS_INT3:
	case X86_INS_INTO:
	case X86_INS_RSM:
		/* Through a task gate these switch tasks, and cr3 with them. */
		c->asid_change = true;
		break;
	case X86_INS_CALL:
		c->kind = CSI_CALL;
		c->push = operand_size(mode, insn, false);
		/* 16-bit targets are offsets in CS, not linear addresses. */
		if (mode == 16 || x->op_count != 1)
			break;
		if (x->operands[0].type == X86_OP_IMM)
			c->target = (uint64_t)x->operands[0].imm &
				    csi_sp_mask(mode);
		else
			operand_of(h, mode, insn, &x->operands[0], c->push,
				   &c->op);
		break;
	case X86_INS_LCALL:
		c->kind = CSI_CALL;
		c->asid_change = true;
		c->far = true;
		c->push = 2 * operand_size(mode, insn, true);
		/* Followed in long mode only (callstack_instr.c). */
		if (mode == 16)
			break;
		if (x->op_count == 2 && x->operands[1].type == X86_OP_IMM) {
			/* ptr16:32: selector, then offset */
			c->op.kind = CSI_OPND_IMM;
			c->op.disp = (uint64_t)x->operands[1].imm &
				     csi_sp_mask(4 * c->push);
		} else if (x->op_count == 1) {
			/* m16:32, m16:64: the offset comes first */
			operand_of(h, mode, insn, &x->operands[0], c->push / 2,
				   &c->op);
		}
		break;
	case X86_INS_RET:
	case X86_INS_RETF:
	case X86_INS_RETFQ:
		if (x->op_count == 1 && x->operands[0].type == X86_OP_IMM)
			imm = (unsigned int)x->operands[0].imm & 0xffff;
		c->kind = CSI_RET;
		c->imm = imm;
		c->far = insn->id != X86_INS_RET;
		if (insn->id == X86_INS_RET)
			c->push = operand_size(mode, insn, false);
		else if (insn->id == X86_INS_RETFQ)
			c->push = 16;
		else
			c->push = 2 * operand_size(mode, insn, true);
		break;
	default:
		break;
	}
}

/*
 * Decode one instruction of QEMU's in mode @m, into scratch[m] with its
 * details if @detail; true if the lengths agree.
 */
static bool decode_one(int m, const mh_insn *insn, bool detail)
{
	uint8_t bytes[16];
	const uint8_t *code = bytes;
	size_t want = csi_mh->insn_size(insn), size;
	uint64_t addr = csi_mh->insn_vaddr(insn);

	if (want == 0 || want > sizeof(bytes))
		return false;
	size = csi_mh->insn_data(insn, bytes, want);
	if (size != want)
		return false;
	if (!detail)
		return cs_disasm_iter(len_handles[m], &code, &size, &addr,
				      len_scratch[m]) &&
		       len_scratch[m]->size == want;
	return cs_disasm_iter(handles[m], &code, &size, &addr, scratch[m]) &&
	       scratch[m]->size == want;
}

/* Does mode @m decode the block's last CSI_CHECK_INSNS as QEMU did? */
static bool mode_fits(int m, const mh_tb *tb, size_t n)
{
	size_t first = n > CSI_CHECK_INSNS ? n - CSI_CHECK_INSNS : 0;

	for (size_t i = first; i < n; i++)
		if (!decode_one(m, csi_mh->tb_insn(tb, i), i == n - 1))
			return false;
	return true;
}

/*
 * The order to try the modes (indices into mode_bits) for a block at
 * @vaddr: from the CPU's registers, else from this thread's hint.
 * Returns how many modes to try.
 */
static int mode_order(uint64_t vaddr, int order[3], bool *lm)
{
	uint64_t cr0 = 0, efer = 0, eflags = 0;

	*lm = false;
	/* Code above 4 GiB runs in 64-bit mode, whatever else is known. */
	if (vaddr > UINT32_MAX) {
		*lm = true;
		order[0] = 2;
		return 1;
	}
	if (csi_mh->reg_read(reg_cr0, &cr0, sizeof(cr0)) > 0 &&
	    csi_mh->reg_read(reg_eflags, &eflags, sizeof(eflags)) > 0) {
		/* qemu-system-i386 may show no efer: no long mode there. */
		if (csi_mh->reg_read(reg_efer, &efer, sizeof(efer)) <= 0)
			efer = 0;
		if (efer & EFER_LMA) {
			*lm = true;
			order[0] = 2, order[1] = 1, order[2] = 0;
			return 3;
		}
		if (!(cr0 & CR0_PE) || (eflags & EFLAGS_VM)) {
			order[0] = 0, order[1] = 1;
			return 2;
		}
		order[0] = 1, order[1] = 0;
		return 2;
	}
	if (mode_hint < 0)
		mode_hint = mode_start;
	order[0] = mode_hint;
	order[1] = mode_hint == 1 ? 2 : 1;
	order[2] = 3 - order[0] - order[1];
	return 3;
}

/*
 * The last instruction of most of a kernel's blocks, told by its opcode
 * alone (no prefix), as capstone would classify it in 64-bit code: a
 * relative jump (jcc or jmp, rel8 or rel32: CSI_OTHER), a near call
 * rel32 or a near ret (imm16 or none).  Capstone took 1% of a Linux boot
 * on these, most of it formatting text nobody reads.
 */
static bool quick64(const mh_insn *insn, struct csi_insn_class *c)
{
	size_t size = csi_mh->insn_size(insn);
	uint8_t b[6];
	int32_t rel;

	if (!size || size > sizeof(b) || csi_mh->insn_data(insn, b, size) != size)
		return false;
	if (!(size == 2 && ((b[0] & 0xf0) == 0x70 || b[0] == 0xeb)) &&
	    !(size == 5 && (b[0] == 0xe9 || b[0] == 0xe8)) &&
	    !(size == 6 && b[0] == 0x0f && (b[1] & 0xf0) == 0x80) &&
	    !(size == 1 && b[0] == 0xc3) && !(size == 3 && b[0] == 0xc2))
		return false;
	memset(c, 0, sizeof(*c));
	c->kind = CSI_OTHER;
	c->mode = 64;
	c->next = csi_mh->insn_vaddr(insn) + size;
	c->lm = true;
	if (b[0] == 0xe8) {
		memcpy(&rel, b + 1, sizeof(rel));
		rel = (int32_t)GINT32_FROM_LE(rel);
		c->kind = CSI_CALL;
		c->push = 8;
		c->target = c->next + (uint64_t)(int64_t)rel;
	} else if (b[0] == 0xc3 || b[0] == 0xc2) {
		c->kind = CSI_RET;
		c->push = 8;
		c->imm = b[0] == 0xc2 ? (unsigned int)(b[1] | b[2] << 8) : 0;
	}
	return true;
}

bool csi_classify(const mh_tb *tb, struct csi_insn_class *c)
{
	size_t n = csi_mh->tb_n_insns(tb);
	const mh_insn *last;
	int order[3], m = -1, nm;
	bool ok = false, lm;

	if (!n)
		return false;
	last = csi_mh->tb_insn(tb, n - 1);
	nm = mode_order(csi_mh->tb_vaddr(tb), order, &lm);
	if (nm == 1 && quick64(last, c)) {
		mode_hint = order[0];
		return true;
	}

	g_mutex_lock(&decode_lock);
	if (nm == 1) {
		/*
		 * One mode to try (code above 4 GiB): the last instruction
		 * decides alone, whether or not the ones before it fit.
		 */
		m = order[0];
		ok = decode_one(m, last, true);
		if (ok)
			mode_hint = m;
	} else {
		for (int i = 0; i < nm && m < 0; i++)
			if (mode_fits(order[i], tb, n))
				m = order[i];
		if (m >= 0) {
			/* mode_fits() decoded the last instruction last. */
			mode_hint = m;
			ok = true;
		} else {
			for (int i = 0; i < nm && !ok; i++) {
				m = order[i];
				ok = decode_one(m, last, true);
			}
		}
	}
	if (ok)
		classify_insn(handles[m], mode_bits[m], scratch[m], c);
	c->lm = lm;
	g_mutex_unlock(&decode_lock);
	return ok;
}
