/* SPDX-License-Identifier: MIT */
/*
 * hypercaller - PANDA's hypercaller API for modhost modules.
 *
 * The hypercaller module (modules/hypercaller/) exports these functions
 * through the symbol registry; a module imports them by name:
 *
 *	#include <modhost/hypercaller.h>
 *
 *	static register_hypercall_t register_hypercall;
 *	MH_IMPORT("hypercaller", register_hypercall, HYPERCALLER_REGISTER_SIG);
 *
 * A handler gets the vCPU (CPUState here is modhost's mh_cpu handle, never
 * dereferenced) and reads the call's arguments with hypercall_get_arg().
 * See modules/hypercaller/README.md and Documentation/hypercall-abi.rst.
 */
#ifndef MODHOST_HYPERCALLER_H
#define MODHOST_HYPERCALLER_H

#include <stdint.h>

#include <modhost/module.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PANDA's name for the vCPU a handler is given. */
typedef mh_cpu CPUState;

/* A hypercall handler: runs on the vCPU, before the instruction. */
typedef void (*hypercall_t)(CPUState *cpu);

/**
 * typedef register_hypercall_t - route @magic to @fn
 *
 * One handler per magic: a magic another module holds is refused (the log
 * names the owner), as are host-reserved magics and real cpuid leaves.
 * The route goes when the module that holds @fn goes.
 */
typedef void (*register_hypercall_t)(uint32_t magic, hypercall_t fn);
/* Remove the route of @magic. */
typedef void (*unregister_hypercall_t)(uint32_t magic);
/* Inside a handler: argument @idx (0..5) of @cpu's hypercall, else 0. */
typedef uint64_t (*hypercall_get_arg_t)(CPUState *cpu, uint32_t idx);
/* Inside a handler: the magic of @cpu's hypercall, else 0. */
typedef uint32_t (*hypercall_get_magic_t)(CPUState *cpu);

/* Their signatures in the registry (MH_IMPORT). */
#define HYPERCALLER_REGISTER_SIG	"v(u32,p)"
#define HYPERCALLER_UNREGISTER_SIG	"v(u32)"
#define HYPERCALLER_GET_ARG_SIG		"u64(p,u32)"
#define HYPERCALLER_GET_MAGIC_SIG	"u32(p)"

#ifdef __cplusplus
}
#endif

#endif /* MODHOST_HYPERCALLER_H */
