/* SPDX-License-Identifier: MIT */
/*
 * stpi - the consumers' and providers' API of the stpi module: source
 * lines, function starts and live variables of the guest, from whatever
 * debug-information provider is loaded (dwarfp for DWARF).
 *
 * Clients import the stpi_* functions and handle the user callbacks:
 *
 *	static stpi_get_pc_source_info_t stpi_get_pc_source_info;
 *	MH_IMPORT(STPI_MODULE, stpi_get_pc_source_info, STPI_GET_PC_SOURCE_INFO_SIG);
 *
 *	api->ppp_register(self, STPI_MODULE, "on_fn_start", STPI_ON_FN_START_SIG,
 *			  (void (*)(void))my_on_fn_start);
 *
 * Providers handle the provider points (on_get_pc_source_info, ...) and
 * import the stpi_runcb_* functions to raise the user callbacks.
 *
 * Guest addresses are uint64_t (PANDA's target_ulong) whatever the guest's
 * mode.  A vCPU is an mh_cpu (module.h), where PANDA passes a CPUState.
 * See modules/stpi/README.md.
 */
#ifndef MODHOST_STPI_H
#define MODHOST_STPI_H

#include <stdint.h>

#include <modhost/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The glue module's name, for MH_IMPORT() and ppp_register(). */
#define STPI_MODULE "stpi"

/**
 * struct PC_Info - where a pc is in the source
 * @funct_name: the innermost function (an inlined one's name at -O2)
 * @file_name: the source file, as the line table names it (with its
 *	directory when the table gives one)
 * @line_number: the line
 * @funct_lowpc: entry address of @funct_name's out-of-line function
 *	(biased), 0 if unknown
 *
 * The strings belong to the provider and live until it is unloaded or
 * reloaded: copy them to keep them.
 */
typedef struct PC_Info {
	const char *funct_name;
	const char *file_name;
	unsigned long long line_number;
	uint64_t funct_lowpc;
} PC_Info;

/**
 * enum LocType - where a variable lives at the current pc
 * @LocReg: in a register; loc is its DWARF register number (see
 *	stpi_dwarf_reg_name())
 * @LocMem: in memory; loc is its guest virtual address
 * @LocConst: nowhere, but its value is known; loc is the value
 * @LocErr: its location could not be given as one of the above (split in
 *	pieces, an entry value, an unsupported operation)
 */
typedef enum { LocReg, LocMem, LocConst, LocErr } LocType;

/* Applied to each live variable by the livevar iterators. */
typedef void (*liveVarCB)(const char *var_ty, const char *var_nm,
			  LocType loc_t, uint64_t loc);

/* -- provider points: declared by stpi, handled by a provider ---------- */

/* Set *rc to 0 and fill *info if @pc is known; leave both alone if not. */
typedef void (*on_get_pc_source_info_t)(mh_cpu *cpu, uint64_t pc,
					PC_Info *info, int *rc);
#define STPI_ON_GET_PC_SOURCE_INFO_SIG "v(p,g,p,p)"
/* Apply @f to the live variables (all, globals, function's). */
typedef void (*on_all_livevar_iter_t)(mh_cpu *cpu, uint64_t pc, liveVarCB f);
typedef void (*on_global_livevar_iter_t)(mh_cpu *cpu, uint64_t pc, liveVarCB f);
typedef void (*on_funct_livevar_iter_t)(mh_cpu *cpu, uint64_t pc, liveVarCB f);
#define STPI_ON_LIVEVAR_ITER_SIG "v(p,g,p)"

/* -- user points: declared by stpi, raised by a provider --------------- */

/* Execution is about to run the first instruction of a new source line. */
typedef void (*on_before_line_change_t)(mh_cpu *cpu, uint64_t pc,
					const char *file_name,
					const char *funct_name,
					unsigned long long lno);
/* Execution has left line @lno (@pc is where it was). */
typedef void (*on_after_line_change_t)(mh_cpu *cpu, uint64_t pc,
				       const char *file_name,
				       const char *funct_name,
				       unsigned long long lno);
/* Execution reached @funct_name's first instruction after its prologue. */
typedef void (*on_fn_start_t)(mh_cpu *cpu, uint64_t pc, const char *file_name,
			      const char *funct_name, unsigned long long lno);
#define STPI_LINE_CB_SIG "v(p,g,s,s,u64)"
#define STPI_ON_BEFORE_LINE_CHANGE_SIG STPI_LINE_CB_SIG
#define STPI_ON_AFTER_LINE_CHANGE_SIG STPI_LINE_CB_SIG
#define STPI_ON_FN_START_SIG STPI_LINE_CB_SIG

/* -- client functions, exported by stpi -------------------------------- */

/* 0 and *info filled, or -1 when no provider knows @pc ("not in dwarf-land"). */
typedef int (*stpi_get_pc_source_info_t)(mh_cpu *cpu, uint64_t pc,
					 PC_Info *info);
#define STPI_GET_PC_SOURCE_INFO_SIG "i32(p,g,p)"
/* Apply @f to each variable live at @pc: all, globals, the function's. */
typedef void (*stpi_livevar_iter_t)(mh_cpu *cpu, uint64_t pc, liveVarCB f);
#define STPI_LIVEVAR_ITER_SIG "v(p,g,p)"

/* -- provider functions, exported by stpi ------------------------------ */

typedef void (*stpi_runcb_t)(mh_cpu *cpu, uint64_t pc, const char *file_name,
			     const char *funct_name, unsigned long long lno);
#define STPI_RUNCB_SIG STPI_LINE_CB_SIG

/**
 * stpi_dwarf_reg_name() - the modhost register name of a DWARF register
 * @addr_size: 4 for i386 code, 8 for x86_64 code
 * @regno: the DWARF register number (a LocReg's loc)
 *
 * Return: the name to pass to mh_api.reg_lookup() ("rax" ... "r15",
 * "rip"; modhost names the registers with their 64-bit names even in
 * 32-bit code), or NULL for a register without one.
 */
static inline const char *stpi_dwarf_reg_name(unsigned int addr_size,
					      uint64_t regno)
{
	static const char *const i386[] = {
		"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "rip",
	};
	static const char *const x86_64[] = {
		"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip",
	};

	if (addr_size == 8)
		return regno < sizeof(x86_64) / sizeof(x86_64[0]) ?
			x86_64[regno] : NULL;
	return regno < sizeof(i386) / sizeof(i386[0]) ? i386[regno] : NULL;
}

/**
 * stpi_dwarf_reg_name_elf() - the modhost register name of a DWARF
 *	register, by the binary's architecture
 * @e_machine: the ELF header's e_machine of the binary the variable is in:
 *	EM_386 (3), EM_X86_64 (62), EM_ARM (40) or EM_AARCH64 (183)
 * @regno: the DWARF register number (a LocReg's loc)
 *
 * The Arm numberings are those of Arm's DWARF ABI: aarch64 x0-x30 are
 * 0-30 and sp 31; arm r0-r15 are 0-15, which QEMU names r0..r12, sp, lr,
 * pc.  i386 and x86_64 are stpi_dwarf_reg_name()'s.
 *
 * Return: the name to pass to mh_api.reg_lookup(), or NULL for a
 * register without one (or another architecture).
 */
static inline const char *stpi_dwarf_reg_name_elf(unsigned int e_machine,
						  uint64_t regno)
{
	static const char *const a64[] = {
		"x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9",
		"x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18",
		"x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
		"x28", "x29", "x30", "sp",
	};
	static const char *const a32[] = {
		"r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9",
		"r10", "r11", "r12", "sp", "lr", "pc",
	};

	switch (e_machine) {
	case 3:		/* EM_386 */
		return stpi_dwarf_reg_name(4, regno);
	case 62:	/* EM_X86_64 */
		return stpi_dwarf_reg_name(8, regno);
	case 183:	/* EM_AARCH64 */
		return regno < sizeof(a64) / sizeof(a64[0]) ? a64[regno] : NULL;
	case 40:	/* EM_ARM */
		return regno < sizeof(a32) / sizeof(a32[0]) ? a32[regno] : NULL;
	default:
		return NULL;
	}
}

#ifdef __cplusplus
}
#endif

#endif /* MODHOST_STPI_H */
