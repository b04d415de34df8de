// SPDX-License-Identifier: MIT
/*
 * upprog: a position-independent user program with DWARF, for
 * tests/linux/userprog.t (dwarfp.binary= on a program placed at run
 * time).  Built static-pie at -O0 and at -O2 (the initramfs has no
 * dynamic loader), shipped as /upprog-O0 and /upprog-O2.
 *
 * Run without arguments it starts "/upprog-O0 child" and "/upprog-O2
 * child" and does its work alongside them, so two processes of the same
 * program run at once at different bases.  Each process says where it is
 * loaded (a hypercall, magic 0x75500001: pid, level, base), then calls
 * up_step() for k = 1..UP_STEPS; in up_step() a hypercall (0x75500002:
 * pid, k) lets the up_probe module read the live variables through stpi,
 * and the program prints them afterwards:
 *
 *	up hello PID LEVEL BASE
 *	up var PID K k=.. acc=.. sq=.. twice=.. up_total=..
 *	up done PID
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <modhost/guest.h>

#define UP_HELLO 0x75500001u
#define UP_VAR 0x75500002u
#define UP_STEPS 4

#ifndef UP_LEVEL
#define UP_LEVEL 0
#endif

/* The ELF header: where the kernel placed this program. */
extern const char __ehdr_start[];

long up_total;

__attribute__((noinline)) long up_step(long k, long acc)
{
	long sq = k * k + acc;
	long twice = 2 * sq - k;

	mh_hypercall2(UP_VAR, (mh_hc_word)getpid(), (mh_hc_word)k);
	printf("up var %d %ld k=%ld acc=%ld sq=%ld twice=%ld up_total=%ld\n",
	       (int)getpid(), k, k, acc, sq, twice, up_total);
	up_total += twice;
	return twice;
}

__attribute__((noinline)) long up_work(long n)
{
	long acc = 3;

	for (long k = 1; k <= n; k++)
		acc = up_step(k, acc) % 1000;
	return acc;
}

/*
 * vfork, not fork: until its exec the child runs the parent's code in the
 * parent's address space, so what dwarfp reports of it is the parent's.
 * With fork the child would run the same code in an address space of its
 * own, which Linux may give the program it then execs the same page
 * directory as (the same cr3): its events before and after the exec would
 * have one address space but two bases.
 */
static pid_t spawn(const char *path)
{
	pid_t pid = vfork();

	if (pid == 0) {
		execl(path, path, "child", (char *)NULL);
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	pid_t kids[2] = { -1, -1 };

	(void)argv;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2) {
		kids[0] = spawn("/upprog-O0");
		kids[1] = spawn("/upprog-O2");
	}
	mh_hypercall3(UP_HELLO, (mh_hc_word)getpid(), UP_LEVEL,
		      (mh_hc_word)__ehdr_start);
	printf("up hello %d %d %p\n", (int)getpid(), UP_LEVEL, (void *)__ehdr_start);
	up_work(UP_STEPS);
	for (int i = 0; i < 2; i++)
		if (kids[i] > 0)
			waitpid(kids[i], NULL, 0);
	printf("up done %d\n", (int)getpid());
	return 0;
}
