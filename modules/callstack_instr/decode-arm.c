// SPDX-License-Identifier: MIT
/*
 * Classify a block's last instruction as call, return or other in Arm
 * code: A64 (aarch64), ARM and Thumb (arm), with capstone.
 *
 * The instruction set is the vCPU's state when the block is translated
 * (QEMU translates a block for the state it runs in): A64 on aarch64,
 * and CPSR.T tells Thumb from ARM (callstack_instr.c reads it).  The
 * instruction is decoded in that state only, and only if capstone finds
 * QEMU's length: code that is not what it seems is not decoded at all,
 * never misread.
 *
 * Calls: bl and blr (A64), bl and blx (ARM, Thumb), and in ARM state
 * "mov lr, pc" then b or bx.  Returns: ret (any register), bx (any
 * register: compilers return through ip as well as lr), pop or ldm with
 * pc in the list, ldr pc from the stack, mov pc, lr; not the exception
 * returns movs pc, lr and ldm {..., pc}^.  Conditional ones (a condition
 * code, or a Thumb IT block) are marked: they may not be taken.
 * Capstone's jump and return groups miss most of these (an ldm that loads
 * pc is just a load to it), hence the explicit list.  A write to a system
 * register (msr, mcr, mcrr) may switch address spaces (TTBR0): QEMU ends
 * a block after each, so it too is a block's last instruction.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Decoding is shared by translating threads: one lock (see decode.c). */
static GMutex arm_lock;
static csh handles[3];		/* [enum csi_isa] */
static cs_insn *scratch[3];

static const struct {
	cs_arch arch;
	cs_mode mode;
} isa_modes[3] = {
	[CSI_ISA_A64] = { CS_ARCH_ARM64, CS_MODE_ARM },
	[CSI_ISA_A32] = { CS_ARCH_ARM, CS_MODE_ARM },
	[CSI_ISA_T32] = { CS_ARCH_ARM, CS_MODE_THUMB },
};

int csi_arm_decode_init(void)
{
	for (int i = 0; i < 3; i++) {
		if (cs_open(isa_modes[i].arch, isa_modes[i].mode,
			    &handles[i]) != CS_ERR_OK)
			goto fail;
		cs_option(handles[i], CS_OPT_DETAIL, CS_OPT_ON);
		scratch[i] = cs_malloc(handles[i]);
		if (!scratch[i])
			goto fail;
	}
	return 0;
fail:
	csi_arm_decode_exit();
	return -ENOMEM;
}

void csi_arm_decode_exit(void)
{
	for (int i = 0; i < 3; i++) {
		if (scratch[i])
			cs_free(scratch[i], 1);
		scratch[i] = NULL;
		if (handles[i])
			cs_close(&handles[i]);
		handles[i] = 0;
	}
}

/* Decode @insn in @isa into scratch[@isa]; true if QEMU's length agrees. */
static bool decode(enum csi_isa isa, const mh_insn *insn)
{
	uint8_t bytes[4];
	const uint8_t *code = bytes;
	size_t want = csi_mh->insn_size(insn), size;
	uint64_t addr = csi_mh->insn_vaddr(insn);

	if ((want != 2 && want != 4) || (isa != CSI_ISA_T32 && want != 4))
		return false;
	size = csi_mh->insn_data(insn, bytes, want);
	if (size != want)
		return false;
	return cs_disasm_iter(handles[isa], &code, &size, &addr, scratch[isa]) &&
	       scratch[isa]->size == want;
}

/* QEMU's name of capstone's general register @reg; NULL if none. */
static const char *reg_name(enum csi_isa isa, unsigned int reg, char *buf,
			    size_t len)
{
	if (isa == CSI_ISA_A64) {
		if (reg >= ARM64_REG_X0 && reg <= ARM64_REG_X28)
			snprintf(buf, len, "x%u", reg - ARM64_REG_X0);
		else if (reg == ARM64_REG_X29 || reg == ARM64_REG_X30)
			snprintf(buf, len, "x%u", reg == ARM64_REG_X29 ? 29 : 30);
		else
			return NULL;
		return buf;
	}
	if (reg >= ARM_REG_R0 && reg <= ARM_REG_R12)
		snprintf(buf, len, "r%u", reg - ARM_REG_R0);
	else if (reg == ARM_REG_LR)
		snprintf(buf, len, "lr");
	else
		return NULL;
	return buf;
}

static bool has_pc(const cs_arm *a, unsigned int from)
{
	for (unsigned int i = from; i < a->op_count; i++)
		if (a->operands[i].type == ARM_OP_REG &&
		    a->operands[i].reg == ARM_REG_PC)
			return true;
	return false;
}

/* A call's target: an immediate, or the register read before the call. */
static void set_target(enum csi_isa isa, const cs_arm64_op *o64,
		       const cs_arm_op *o32,
		       struct csi_insn_class *c)
{
	char buf[8];

	if (o64 ? o64->type == ARM64_OP_IMM : o32->type == ARM_OP_IMM) {
		c->target = o64 ? (uint64_t)o64->imm : (uint32_t)o32->imm;
	} else if (o64 ? o64->type == ARM64_OP_REG : o32->type == ARM_OP_REG) {
		c->treg = reg_name(isa, o64 ? (unsigned int)o64->reg :
				   (unsigned int)o32->reg, buf,
				   sizeof(buf)) ? g_intern_string(buf) : NULL;
		if (!c->treg)
			c->kind = CSI_OTHER;
	} else {
		c->kind = CSI_OTHER;
	}
}

static void classify_a64(const cs_insn *insn, struct csi_insn_class *c)
{
	const cs_arm64 *x = &insn->detail->arm64;

	switch (insn->id) {
	case ARM64_INS_BL:
	case ARM64_INS_BLR:
		c->kind = CSI_CALL;
		if (x->op_count == 1)
			set_target(CSI_ISA_A64, &x->operands[0], NULL, c);
		else
			c->kind = CSI_OTHER;
		break;
	case ARM64_INS_RET:
		c->kind = CSI_RET;
		break;
	case ARM64_INS_MSR:
		c->asid_change = true;
		break;
	default:
		break;
	}
}

static void classify_a32(enum csi_isa isa, const cs_insn *insn,
			 struct csi_insn_class *c)
{
	const cs_arm *x = &insn->detail->arm;

	c->cond = x->cc != ARM_CC_AL && x->cc != ARM_CC_INVALID;
	switch (insn->id) {
	case ARM_INS_BL:
	case ARM_INS_BLX:
		c->kind = CSI_CALL;
		if (x->op_count == 1)
			set_target(isa, NULL, &x->operands[0], c);
		else
			c->kind = CSI_OTHER;
		break;
	case ARM_INS_BX:
		c->kind = CSI_RET;
		break;
	case ARM_INS_POP:
		if (has_pc(x, 0))
			c->kind = CSI_RET;
		break;
	case ARM_INS_LDM:
	case ARM_INS_LDMDA:
	case ARM_INS_LDMDB:
	case ARM_INS_LDMIB:
		/*
		 * ldm sp!, {..., pc}: the list follows the base register.
		 * With ^ (usermode) it is an exception return, no function's.
		 */
		if (has_pc(x, 1) && !x->usermode)
			c->kind = CSI_RET;
		break;
	case ARM_INS_LDR:
		/* ldr pc, [sp], #4 (a jump table loads pc from elsewhere) */
		if (x->op_count >= 2 && x->operands[0].type == ARM_OP_REG &&
		    x->operands[0].reg == ARM_REG_PC &&
		    x->operands[1].type == ARM_OP_MEM &&
		    x->operands[1].mem.base == ARM_REG_SP)
			c->kind = CSI_RET;
		break;
	case ARM_INS_MOV:
		/* movs pc, lr returns from an exception, not a function. */
		if (x->op_count == 2 && !x->update_flags && x->operands[0].type == ARM_OP_REG &&
		    x->operands[0].reg == ARM_REG_PC &&
		    x->operands[1].type == ARM_OP_REG &&
		    x->operands[1].reg == ARM_REG_LR)
			c->kind = CSI_RET;
		break;
	case ARM_INS_MCR:
	case ARM_INS_MCRR:
		c->asid_change = true;
		break;
	default:
		break;
	}
}

/*
 * Is the last of @n instructions in a Thumb IT block?  Decoded alone it
 * looks unconditional; an IT among the four before it makes it
 * conditional (treated so even when the IT's mask ends earlier: that
 * costs a check at the next block, never a wrong frame).
 */
static bool in_it_block(const mh_tb *tb, size_t n)
{
	for (size_t i = n > 5 ? n - 5 : 0; i + 1 < n; i++)
		if (decode(CSI_ISA_T32, csi_mh->tb_insn(tb, i)) &&
		    scratch[CSI_ISA_T32]->id == ARM_INS_IT)
			return true;
	return false;
}

/*
 * ARM state's call without bl: "mov lr, pc" (lr = its address + 8, the
 * instruction after the next) then b or bx; compilers emit it before a
 * call that does not return.  @br is the branch, @c its class so far,
 * @n the block's length.
 */
static void old_style_call(const mh_tb *tb, size_t n, const cs_insn *br,
			   struct csi_insn_class *c)
{
	const cs_arm *x = &br->detail->arm;
	const cs_arm *m;
	cs_arm_op op;
	uint64_t at;

	if ((br->id != ARM_INS_B && br->id != ARM_INS_BX) || c->cond ||
	    x->op_count != 1 || n < 2)
		return;
	/* @br is the scratch instruction the next decode overwrites. */
	op = x->operands[0];
	if (!decode(CSI_ISA_A32, csi_mh->tb_insn(tb, n - 2)))
		return;
	m = &scratch[CSI_ISA_A32]->detail->arm;
	at = scratch[CSI_ISA_A32]->address;
	if (scratch[CSI_ISA_A32]->id != ARM_INS_MOV || m->op_count != 2 ||
	    m->cc != ARM_CC_AL || m->operands[0].type != ARM_OP_REG ||
	    m->operands[0].reg != ARM_REG_LR ||
	    m->operands[1].type != ARM_OP_REG ||
	    m->operands[1].reg != ARM_REG_PC || at + 8 != c->next)
		return;
	c->kind = CSI_CALL;
	c->treg = NULL;
	set_target(CSI_ISA_A32, NULL, &op, c);
}

bool csi_classify_arm(const mh_tb *tb, enum csi_isa isa,
		      struct csi_insn_class *c)
{
	size_t n = csi_mh->tb_n_insns(tb);
	const mh_insn *last;
	bool ok;

	if (!n)
		return false;
	last = csi_mh->tb_insn(tb, n - 1);
	memset(c, 0, sizeof(*c));
	c->mode = isa == CSI_ISA_A64 ? 64 : 32;
	g_mutex_lock(&arm_lock);
	ok = decode(isa, last);
	if (ok) {
		c->next = scratch[isa]->address + scratch[isa]->size;
		if (isa == CSI_ISA_A64)
			classify_a64(scratch[isa], c);
		else
			classify_a32(isa, scratch[isa], c);
		if (isa == CSI_ISA_A32)
			old_style_call(tb, n, scratch[isa], c);
		/* Thumb code's addresses are even; bit 0 only says Thumb. */
		c->target &= isa == CSI_ISA_A64 ? ~0ull : ~1ull;
		if (isa == CSI_ISA_T32 && c->kind != CSI_OTHER && !c->cond)
			c->cond = in_it_block(tb, n);
	}
	g_mutex_unlock(&arm_lock);
	return ok;
}
