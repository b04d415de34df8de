/* SPDX-License-Identifier: MIT */
/*
 * symtab: function names for guest addresses, for any module that names
 * addresses (README.md here).  Reads an ELF symbol table (libelf) or a
 * System.map / /proc/kallsyms text list, and finds the offset a kernel
 * was relocated by (KASLR) from the call targets a module observes.
 *
 * Compiled into each module that uses it: list symtab.o in the module's
 * objects (a link to this file in the module's folder) and add this
 * folder to its include path.  No global state: each table is its own.
 */
#ifndef MODHOST_LIB_SYMTAB_H
#define MODHOST_LIB_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct symtab;

/* The alignment of a kernel's relocation: CONFIG_PHYSICAL_ALIGN, x86_64. */
#define SYMTAB_KASLR_ALIGN	(2ull << 20)
/* The farthest a kernel is moved from its link address (x86_64: 1 GiB). */
#define SYMTAB_KASLR_RANGE	(1ull << 30)

/**
 * symtab_load() - read the function symbols of a file
 * @path: an ELF file with a symbol table, a text list in System.map or
 *	/proc/kallsyms format ("ADDRESS TYPE NAME", kallsyms may add
 *	"[MODULE]"), or a Linux kernel image without a symbol table (a
 *	bzImage, a stripped vmlinux) whose own kallsyms tables are read
 *	(kernel_image.c), told apart by the file's first bytes
 * @err: on failure, set to what is wrong with the file (g_free() it),
 *	without the path: the caller names it
 *
 * An ELF file gives its function symbols (STT_FUNC), and a kernel image
 * (code in the upper half) its untyped code symbols too, as its System.map
 * lists them (assembly's SYM_CODE_START: ret_from_fork).  A text list
 * keeps its text symbols (types T, t, W, w); a symbol's size is
 * the distance to the next symbol of any kind.  A line in neither format
 * fails the load with its line number.  Module symbols ("[MODULE]") are
 * read and ignored: modules are loaded at addresses of their own.
 *
 * Return: the table, or NULL with *@err set.
 */
struct symtab *symtab_load(const char *path, char **err);

/** symtab_free() - free @t (NULL is fine). @t: a table */
void symtab_free(struct symtab *t);

/**
 * symtab_describe() - what @t was read from
 * @t: a table
 *
 * Return: "ELF symbol table", "System.map", "kallsyms" or "the kernel
 * image's kallsyms".
 */
const char *symtab_describe(const struct symtab *t);

/** symtab_count() - the number of function symbols. @t: a table */
size_t symtab_count(const struct symtab *t);

/**
 * symtab_symbol() - one function symbol, for a walk of them all
 * @t: a table
 * @i: its index, from 0 to symtab_count() - 1, by address
 * @addr: set to its address in the file (no offset applied)
 * @size: set to its size in bytes (0 if the file gives none)
 *
 * Return: its name, or NULL if @i is past the last symbol.
 */
const char *symtab_symbol(const struct symtab *t, size_t i, uint64_t *addr,
			  uint64_t *size);

/**
 * symtab_set_offset() - fix the offset between the file and the guest
 * @t: a table
 * @offset: guest address minus file address (0: the file as it is)
 *
 * Without this call, a text list and an ELF kernel image (ET_EXEC, its
 * functions in the upper half) wait for symtab_observe() to find it; any
 * other file has offset 0.
 */
void symtab_set_offset(struct symtab *t, int64_t offset);

/**
 * symtab_offset() - the offset, once known
 * @t: a table
 * @offset: set to guest address minus file address when known
 * @votes: if not NULL, set to how many observed targets land on a symbol's
 *	start under it (0 for an offset given or implied)
 * @seen: if not NULL, set to how many distinct targets were observed
 *
 * Return: true if the offset is known.
 */
bool symtab_offset(struct symtab *t, int64_t *offset, unsigned int *votes,
		   unsigned int *seen);

/**
 * symtab_observe() - a call target the guest has (direct calls at
 *	translation, or any callee)
 * @t: a table
 * @target: the guest address called
 *
 * While the offset is unknown, collects distinct targets near the symbols
 * (within SYMTAB_KASLR_RANGE, same half of the address space); every 32
 * new ones from 64 on, it tries each offset, a multiple of
 * SYMTAB_KASLR_ALIGN within SYMTAB_KASLR_RANGE, that makes some target
 * land on a symbol's start, and takes the one most targets agree on if
 * at least 16 do and 4 times as many as for any other.  Thread-safe.
 *
 * Return: true if this call decided the offset (report it once).
 */
bool symtab_observe(struct symtab *t, uint64_t target);

/**
 * symtab_settle() - decide the offset now, from what was observed
 * @t: a table
 *
 * For the end of a run that saw few calls: the same choice as
 * symtab_observe() with at least 3 agreeing targets.
 *
 * Return: true if this call decided the offset.
 */
bool symtab_settle(struct symtab *t);

/**
 * symtab_name() - the function at a guest address
 * @t: a table
 * @addr: guest address
 * @buf: room for "name+0x10"
 * @len: size of @buf
 *
 * Return: the symbol's name if @addr is its start, "name+0xOFF" (in @buf)
 * inside it, NULL if no symbol covers @addr or the offset is not known
 * yet.
 */
const char *symtab_name(struct symtab *t, uint64_t addr, char *buf,
			size_t len);

#endif /* MODHOST_LIB_SYMTAB_H */
