// SPDX-License-Identifier: MIT
/*
 * The ABI probe: compiled against the ABI's headers in include/modhost/
 * (module.h, guest.h, hypercall.h) by tools/abi-check, with -g
 * -fno-eliminate-unused-debug-types so that its DWARF describes every
 * struct, enum and typedef the headers declare, even unused ones
 * (abi/dwarf.py reads sizes, offsets, types and enum values from there:
 * the compiler's layout, not a parse of the header text).
 *
 * When run, it prints the parts of the ABI that no header states as C:
 * the metadata section's format and keys, the signature-string grammar and
 * the guest hypercall constants.  One row a line, "KIND NAME VALUE", the
 * format of abi/v*.manifest minus the SINCE column.
 *
 * These tables are the ABI's definition, not a copy of the host's code: the
 * conformance suite (tests/abi/) checks the host against them.  Changing a
 * row is an ABI change like any other and abi-check reports it.
 */
#include <stdio.h>

#include "probe-includes.h"	/* #include <modhost/X.h> for each header */

struct row {
	const char *kind;
	const char *name;
	const char *value;
};

/* The ".modhost" section: host/loader.c, Documentation/abi.rst. */
static const struct row meta_rows[] = {
	{ "meta", "format", "NUL-terminated key=value strings, split at the first '='; runs of NULs between them are padding" },
	{ "meta", "value", "no byte below 0x20 and no 0x7f" },
	{ "meta", "unknown-key", "ignored (a later minor may add keys; the minor check guards)" },
	{ "meta", "limit.size", "1048576" },
	{ "meta", "limit.depends", "64" },
	{ "meta", "limit.params", "256" },
	{ "meta", "key.abi", "required, once: MAJOR.MINOR, decimal, each 0-65535" },
	{ "meta", "key.name", "required, once: [A-Za-z0-9_-]{1,64}, the file name minus .so" },
	{ "meta", "key.version", "required, once: text" },
	{ "meta", "key.license", "optional, once: SPDX identifier" },
	{ "meta", "key.description", "optional, once: text" },
	{ "meta", "key.depends", "optional, repeats: a module name" },
	{ "meta", "key.param", "optional, repeats: NAME:TYPE:HELP, NAME a C identifier, unique" },
	{ "meta", "key.paramdefault", "one per param, before or after it: NAME:VALUE of the param's type" },
	{ "meta", "key.export", "optional, repeats: NAME:SIG, NAME a C identifier, unique; must match the MH_EXPORT table" },
	{ "meta", "key.import", "optional, repeats: MODULE.NAME:SIG, unique; MODULE is required like depends; must match the MH_IMPORT table" },
	{ "meta", "key.params", "optional, once: any (parameters of any name pass undeclared, as strings, in the order given)" },
	{ "meta", "limit.symbols", "256 exports, 256 imports" },
	{ "meta", "param-type.bool", "on off true false yes no 1 0 (any case)" },
	{ "meta", "param-type.int", "int64 as a C literal: decimal, 0x hex or 0 octal, optional sign" },
	{ "meta", "param-type.uint", "uint64, decimal or 0x hex" },
	{ "meta", "param-type.str", "any text" },
	{ "meta", "param-type.list", "any text; given several times, the module gets every value in order, one per line" },
};

/*
 * Signature strings of exports, imports, PPP points and hypercall routes
 * (written for the symbol registry; host/signature.c parses them).
 */
static const struct row sig_rows[] = {
	{ "sig", "form", "RET(ARG,...) with no spaces: RET a type or v, ARG a type; () takes no argument" },
	{ "sig", "equality", "two signatures are equal exactly when their strings are" },
	{ "sig", "type.v", "void, return only" },
	{ "sig", "type.i8", "int8_t" },
	{ "sig", "type.i16", "int16_t" },
	{ "sig", "type.i32", "int32_t" },
	{ "sig", "type.i64", "int64_t" },
	{ "sig", "type.u8", "uint8_t" },
	{ "sig", "type.u16", "uint16_t" },
	{ "sig", "type.u32", "uint32_t" },
	{ "sig", "type.u64", "uint64_t" },
	{ "sig", "type.b", "bool" },
	{ "sig", "type.p", "a host pointer" },
	{ "sig", "type.g", "a guest address, 64 bits" },
	{ "sig", "type.s", "a string (const char *); in a hypercall route a guest string the host copies in" },
};

/*
 * The guest hypercall ABI (the design's "Guest hypercall ABI"), as ABI 1.0
 * defined it, before any header had these constants.  Since 1.1
 * <modhost/hypercall.h> defines the magics and the marked NOP as macros,
 * which the manifest records as "const" rows: a change to these rows or to
 * those macros fails abi-check against the manifest.  The rows stay
 * literal so that the probe still compiles against 1.0 headers, which
 * have no hypercall.h.
 */
static const struct row hypercall_rows[] = {
	{ "hypercall", "encoding.cpuid", "the cpuid instruction, eax/rax holds the 32-bit magic" },
	{ "hypercall", "args", "at most 6, read before cpuid executes; cpuid then runs as usual" },
	{ "hypercall", "regs.x86_64", "rdi rsi rdx r10 r8 r9" },
	{ "hypercall", "regs.i386", "ebx ecx edx esi edi ebp" },
	{ "hypercall", "reserved", "0x4d480000-0x4d4800ff" },
	{ "hypercall", "magic.load", "0x4d480001 (guest address of the module name, its length)" },
	{ "hypercall", "magic.unload", "0x4d480002 (guest address of the module name, its length)" },
	{ "hypercall", "magic.reload", "0x4d480003 (guest address of the module name, its length)" },
	{ "hypercall", "unroutable", "0x0-0xffff 0x40000000-0x4000ffff 0x80000000-0x8000ffff 0xc0000000-0xc000ffff" },
};

static void print_rows(const struct row *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%s %s %s\n", r[i].kind, r[i].name, r[i].value);
}

#define PRINT_ROWS(t) print_rows(t, sizeof(t) / sizeof(t[0]))

int main(void)
{
	/* The ABI this probe was compiled against: the manifest's key. */
	printf("abi %d.%d\n", MODHOST_ABI_MAJOR, MODHOST_ABI_MINOR);
	PRINT_ROWS(meta_rows);
	PRINT_ROWS(sig_rows);
	PRINT_ROWS(hypercall_rows);
	return 0;
}
