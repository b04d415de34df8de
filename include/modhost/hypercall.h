/* SPDX-License-Identifier: MIT */
/*
 * modhost hypercall wire constants: what a guest and the host must agree
 * on, kept in this one header so the two cannot drift.
 *
 * <modhost/guest.h> includes it for guest code; the host includes it to
 * recognise and route hypercalls; a module may include it to name the
 * host's magics.  Macros only, no types and no includes: it builds in a
 * freestanding guest and on any host architecture.
 * Documentation/hypercall-abi.rst is the reference.
 *
 * These macros are module ABI (abi/v1.manifest records each one since
 * ABI 1.1): a value never changes within a major.
 */
#ifndef MODHOST_HYPERCALL_H
#define MODHOST_HYPERCALL_H

/* Host-reserved magics: 0x4D480000 - 0x4D4800FF. */
#define MH_HC_RESERVED_FIRST	0x4D480000u
#define MH_HC_RESERVED_LAST	0x4D4800FFu
/*
 * Guest control (the host must run with guest_control=on): first argument
 * the guest address of a module name, second its length.
 */
#define MH_HC_LOAD		0x4D480001u
#define MH_HC_UNLOAD		0x4D480002u
#define MH_HC_RELOAD		0x4D480003u

/*
 * The no-clobber form, "nopl MH_HC_NOP_MARK(%rax,%rax,1)": the mark in
 * the NOP's 32-bit displacement ("MHCL" in memory), and the whole
 * instruction as assembler bytes (0f 1f 84 00, then the mark in little
 * endian).  The host matches exactly the bytes MH_HC_NOP_INSN assembles to.
 * On aarch64 and arm the marked form carries the same mark, its bytes in
 * memory order as the immediates of four HINT instructions (guest.h).
 */
#define MH_HC_NOP_MARK		0x4C43484Du
#define MH_HC_NOP_INSN		".byte 0x0f, 0x1f, 0x84, 0x00, 0x4d, 0x48, 0x43, 0x4c"

#endif /* MODHOST_HYPERCALL_H */
