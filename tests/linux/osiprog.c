// SPDX-License-Identifier: MIT
/*
 * osiprog: a static pthreads program for tests/linux/osi.t.  At several
 * points it prints what the guest itself sees -- every process's pid,
 * ppid and name (/proc/PID/stat), its own file-backed mappings
 * (/proc/self/maps) and its thread ids (/proc/self/task) -- and makes a
 * hypercall (magic 0x6f510000, the point and the attempt), at which the
 * osi_probe module writes down what osi says.
 *
 * The guest's view and osi's answer cannot be taken at one instant: the
 * other vCPU runs on meanwhile, and a workqueue worker's name in /proc
 * ("kworker/1:1-events", "+events" while it runs a work item) can change
 * and change back between two reads.  So at each point the guest reads its
 * view before and after each hypercall and prints the attempts where the
 * two are equal ("stable"): 3 of them in at most 20 tries ("osiprog
 * STABLE TRIES" to change that); an attempt whose view changed is only
 * named.  The test compares osi's answer with the guest's view at each
 * stable attempt and needs one of them to agree in everything
 * (tests/linux/osi.t).
 *
 *	osi point P.A			a stable attempt:
 *	ps PID PPID NAME ...
 *	map START END PATH ...		(file-backed)
 *	vma START END ...		(all but [vsyscall])
 *	tid TID ...
 *	mod NAME BASE SIZE ...		(/proc/modules)
 *	osi end P.A
 *	osi changed P.A			an attempt whose view changed
 *
 * First it loads /crc7.ko, a kernel module of the image's, so that there
 * is a module to list.
 *
 * Points: 1 alone; 2 with two more threads and a child process; 3 after
 * the child exited and the threads were joined.  After point 1 it asks
 * the host to reload osi_linux (guest_control=on), and gives the reload a
 * generous time to be applied, as tests/linux/hcuser.c does: points 2 and
 * 3 are answered by the new version.
 */
#include <ctype.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <modhost/guest.h>

#define OSI_PROBE_MAGIC 0x6f510000u

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 4096 > cap)
			buf = realloc(buf, cap = cap * 2 + 8192);
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = 0;
	*len = n;
	return buf;
}

static int numeric(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* The guest's view, as the lines above (but the point markers). */
static char *view(void)
{
	char *out = NULL, path[300];
	size_t outlen = 0, len;
	FILE *o = open_memstream(&out, &outlen);
	struct dirent *d;
	DIR *dir;
	char *maps, *line, *save;

	dir = opendir("/proc");
	while (dir && (d = readdir(dir))) {
		char *stat, *open, *close;

		if (!numeric(d->d_name))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", d->d_name);
		stat = slurp(path, &len);
		if (!stat)
			continue;	/* gone meanwhile: the retry catches it */
		open = strchr(stat, '(');
		close = strrchr(stat, ')');
		if (open && close && close > open) {
			int ppid = 0;

			*close = 0;
			sscanf(close + 2, "%*c %d", &ppid);
			fprintf(o, "ps %s %d %s\n", d->d_name, ppid, open + 1);
		}
		free(stat);
	}
	if (dir)
		closedir(dir);
	maps = slurp("/proc/self/maps", &len);
	for (line = maps ? strtok_r(maps, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long start, end;
		char *p = strchr(line, '/');

		if (sscanf(line, "%lx-%lx", &start, &end) != 2)
			continue;
		/* File-backed: the path starts at the first '/'. */
		if (p)
			fprintf(o, "map %lx %lx %s\n", start, end, p);
		/* Every mapping but the vsyscall page, which is no VMA. */
		if (!strstr(line, "[vsyscall]"))
			fprintf(o, "vma %lx %lx\n", start, end);
	}
	free(maps);
	dir = opendir("/proc/self/task");
	while (dir && (d = readdir(dir)))
		if (numeric(d->d_name))
			fprintf(o, "tid %s\n", d->d_name);
	if (dir)
		closedir(dir);
	maps = slurp("/proc/modules", &len);
	for (line = maps ? strtok_r(maps, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[64];
		unsigned long size, base;

		/* NAME SIZE USERS DEPS STATE BASE */
		if (sscanf(line, "%63s %lu %*s %*s %*s %lx", name, &size, &base) == 3)
			fprintf(o, "mod %s %lx %lu\n", name, base, size);
	}
	free(maps);
	fclose(o);
	return out;
}

/* At each point: this many stable attempts, in at most so many tries. */
static unsigned int stable_wanted = 3, attempts = 20;

static void point(unsigned int p)
{
	unsigned int stable = 0;

	for (unsigned int a = 0; a < attempts && stable < stable_wanted; a++) {
		char *before = view(), *after;

		mh_hypercall2(OSI_PROBE_MAGIC, p, a);
		after = view();
		if (!strcmp(before, after)) {
			printf("osi point %u.%u\n%sosi end %u.%u\n", p, a, before, p, a);
			stable++;
		} else {
			printf("osi changed %u.%u\n", p, a);
		}
		fflush(stdout);
		free(before);
		free(after);
	}
}

static int go[2];

static void *worker(void *arg)
{
	char c;

	(void)arg;
	/* Wait until main says so: the thread exists at point 2. */
	if (read(go[0], &c, 1) < 0)
		return NULL;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[2];
	pid_t child;
	int ko;

	if (argc > 1 && atoi(argv[1]) > 0)
		stable_wanted = (unsigned int)atoi(argv[1]);
	if (argc > 2 && atoi(argv[2]) > 0)
		attempts = (unsigned int)atoi(argv[2]);
	ko = open("/crc7.ko", O_RDONLY);

	if (ko >= 0) {
		if (syscall(SYS_finit_module, ko, "", 0))
			perror("osiprog: finit_module /crc7.ko");
		close(ko);
	}
	if (pipe(go))
		return 1;
	point(1);
	mh_guest_reload("osi_linux");
	sleep(1);
	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	/* The threads and the child exist once they show in /proc (they do at once). */
	point(2);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	if (write(go[1], "xx", 2) != 2)
		return 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	point(3);
	printf("osiprog: done\n");
	return 0;
}
