/*
 * The arguments tests/guest/hcall.c passes and tests/modules/hcrec.c
 * checks: six distinct values per call, derived from the call's sequence
 * number.  In a 64-bit guest the upper halves are set too, so a host that
 * read only the low 32 bits (or the i386 registers) would be caught.
 */
#ifndef HCALL_PATTERN_H
#define HCALL_PATTERN_H

#include <stdint.h>

/* Argument @k (0..5) of call number @seq, for a guest of @width bits. */
static inline uint64_t hc_pattern(unsigned int width, unsigned int k,
				  uint32_t seq)
{
	uint64_t v;

	if (k == 0)
		return seq;
	v = (uint32_t)(((k + 1u) << 28) | ((seq * 2654435761u) & 0x0fffffffu));
	if (width == 64)
		v |= (uint64_t)(0xc0u + k) << 56 | (uint64_t)(k + 1) << 32;
	return v;
}

#endif /* HCALL_PATTERN_H */
