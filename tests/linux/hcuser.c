// SPDX-License-Identifier: MIT
/*
 * hcuser: a static Linux user program for tests/linux/linux.t.  From user
 * space, through include/modhost/guest.h: asks the host to load hcrec,
 * gives the load time to be applied (hypercalls are one-way), then makes
 * N hypercalls with tests/guest/hcall-pattern.h's arguments, half in each
 * encoding.  hcrec checks them; the test reads the event log.
 *
 * Usage: hcuser [N]   (default 1000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <modhost/guest.h>

#include "hcall-pattern.h"

#define MAGIC 0x12345600u

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? (unsigned int)atoi(argv[1]) : 1000;

	mh_guest_load("hcrec");
	printf("hcuser: asked for hcrec\n");
	fflush(stdout);
	sleep(2);
	for (unsigned int i = 0; i < n; i++) {
		unsigned long a[6];

		for (unsigned int k = 0; k < 6; k++)
			a[k] = hc_pattern(64, k, i);
		if (i & 1)
			mh_hypercall6(MAGIC, a[0], a[1], a[2], a[3], a[4], a[5]);
		else
			mh_hypercall_cpuid6(MAGIC, a[0], a[1], a[2], a[3], a[4],
					    a[5]);
	}
	printf("hcuser: sent %u\n", n);
	return 0;
}
