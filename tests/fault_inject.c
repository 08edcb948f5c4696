/*
 * Test-only LD_PRELOAD shim: makes the Nth change to a folder (rename, link, unlink and
 * their *at forms) fail, to check that a command survives being stopped at that point.
 *   DANEMSG_FAULT_AT=N        which change fails (1 = the first); unset: none
 *   DANEMSG_FAULT_MODE=eio    the call fails with EIO (the default)
 *   DANEMSG_FAULT_MODE=exit   the process ends there, as in a crash (_exit 99)
 *   DANEMSG_FAULT_REPORT=F    when the fault fires, F gets "CALL PATH"
 *   DANEMSG_FAULT_NO_LINKS=1  every link fails with EPERM, as on file systems without
 *                             hard links (not counted as changes)
 * Never built into the product: tests/CMakeLists.txt builds it for tests only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static unsigned long changes;

/* 1 when this change is the one that must fail (then it has been reported). */
static int fault_here(const char *call, const char *path)
{
	const char *at = getenv("DANEMSG_FAULT_AT");
	if (!at || ++changes != strtoul(at, NULL, 10))
		return 0;
	const char *report = getenv("DANEMSG_FAULT_REPORT");
	if (report) {
		FILE *f = fopen(report, "w");
		if (f) {
			fprintf(f, "%s %s\n", call, path);
			fclose(f);
		}
	}
	const char *mode = getenv("DANEMSG_FAULT_MODE");
	if (mode && mode[0] == 'e' && mode[1] == 'x')
		_exit(99);
	errno = EIO;
	return 1;
}

#define NEXT(name) ((name##_fn)dlsym(RTLD_NEXT, #name))

typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*renameat2_fn)(int, const char *, int, const char *, unsigned);
typedef int (*link_fn)(const char *, const char *);
typedef int (*linkat_fn)(int, const char *, int, const char *, int);
typedef int (*unlink_fn)(const char *);
typedef int (*unlinkat_fn)(int, const char *, int);

int rename(const char *from, const char *to)
{
	return fault_here("rename", to) ? -1 : NEXT(rename)(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
	return fault_here("renameat", to) ? -1 : NEXT(renameat)(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
	return fault_here("renameat2", to) ? -1 : NEXT(renameat2)(fd1, from, fd2, to, flags);
}

static int no_links(void)
{
	if (!getenv("DANEMSG_FAULT_NO_LINKS"))
		return 0;
	errno = EPERM;
	return 1;
}

int link(const char *from, const char *to)
{
	return no_links() || fault_here("link", to) ? -1 : NEXT(link)(from, to);
}

int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
	return no_links() || fault_here("linkat", to) ? -1 :
	       NEXT(linkat)(fd1, from, fd2, to, flags);
}

int unlink(const char *path)
{
	return fault_here("unlink", path) ? -1 : NEXT(unlink)(path);
}

int unlinkat(int fd, const char *path, int flags)
{
	return fault_here("unlinkat", path) ? -1 : NEXT(unlinkat)(fd, path, flags);
}
