/* SPDX-License-Identifier: MIT */
/*
 * kernel_image: a Linux kernel image's vmlinux ELF (a bzImage's LZ4
 * payload unpacked), its sections and its own kallsyms tables, for any
 * module that reads kernel images (README.md here).  Compiled into each
 * module that uses it, as symtab.c is; it needs libelf and liblz4.
 */
#ifndef MODHOST_LIB_KERNEL_IMAGE_H
#define MODHOST_LIB_KERNEL_IMAGE_H

#include <stddef.h>
#include <stdint.h>

/**
 * kimage_elf() - the vmlinux ELF of a kernel image
 * @path: a bzImage with an LZ4 payload, or an ELF file
 * @img: set to the file's bytes (g_free() it)
 * @vmlinux: set to the unpacked payload of a bzImage, else NULL (g_free())
 * @len: set to the ELF's size
 * @err: on failure, one line naming @path and what it is not
 *
 * Return: the ELF's bytes (*@img or *@vmlinux), or NULL.
 */
const unsigned char *kimage_elf(const char *path, unsigned char **img,
				unsigned char **vmlinux, size_t *len, char **err);

/**
 * kimage_section() - the bytes of section @name of an ELF image in memory
 * @img: the ELF
 * @len: its size
 * @name: ".rodata", ".BTF" ...
 * @size: set to the section's size
 *
 * Return: the section's bytes inside @img, or NULL.
 */
const void *kimage_section(const unsigned char *img, size_t len,
			   const char *name, size_t *size);

/**
 * kimage_kallsyms_each() - every symbol of the kernel's kallsyms tables
 * @ro: the image's .rodata
 * @len: its size
 * @fn: called with each symbol's type letter, name and link-time address,
 *	in the tables' order
 * @opaque: for @fn
 *
 * Return: how many symbols the tables hold, or -1 if none were recognised.
 */
int kimage_kallsyms_each(const unsigned char *ro, size_t len,
			 void (*fn)(char type, const char *name, uint64_t addr,
				    void *opaque),
			 void *opaque);

/**
 * kimage_kallsyms_find() - link-time addresses of some symbols
 * @ro: the image's .rodata
 * @len: its size
 * @names: the symbols wanted, NULL-terminated
 * @addrs: one per name, 0 on entry; set for each name found
 *
 * Return: how many were found, or -1 if no kallsyms tables were recognised.
 */
int kimage_kallsyms_find(const unsigned char *ro, size_t len,
			 const char *const *names, uint64_t *addrs);

/**
 * kimage_system_map() - a System.map of a kernel image, from its kallsyms:
 *	"ADDRESS TYPE NAME" lines in address order, link-time addresses
 * @path: a bzImage (LZ4) or a vmlinux, built with CONFIG_KALLSYMS
 * @err: on failure, one line naming @path
 *
 * Return: the text (g_free() it), or NULL.
 */
char *kimage_system_map(const char *path, char **err);

/**
 * kimage_qemu_kernel() - the file this QEMU was started with as -kernel
 *	(or --kernel), from its command line
 *
 * Return: the path (g_free() it), or NULL if there is none.
 */
char *kimage_qemu_kernel(void);

#endif
