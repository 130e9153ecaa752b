// The user-namespace stage of `create`: a container whose config.json
// joins an existing user namespace by path (linux.namespaces[] {type:
// user, path}). setns(2) into a user namespace needs a single-threaded
// caller (EINVAL), which a Go process never is, so this constructor does
// it before stepbox-exec's Go runtime starts, then clones the container's
// init into the namespaces the spec wants new (owned by the joined user
// namespace, as runc's nsexec makes them) and executes the init's sealed
// copy there. It never enters Go.
//
// It does nothing unless argv[1] is STEPBOX_USERNS_ARG and
// STEPBOX_USERNS_ENV is set. sandbox/joinns.go starts it and speaks the
// protocol below; DESIGN.md, "The OCI runtime command line", says why.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "nsenter.h"

#ifndef SYS_execveat
#define SYS_execveat 322
#endif
#ifndef AT_EMPTY_PATH
#define AT_EMPTY_PATH 0x1000
#endif

const char *stepbox_userns_env(void) { return STEPBOX_USERNS_ENV; }
const char *stepbox_userns_arg(void) { return STEPBOX_USERNS_ARG; }

// report writes one line to the Go side's pipe: "joined", "pid N", or
// "errno STEP N" for a step that failed.
static void report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(int fd, const char *fmt, ...)
{
	char buf[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0 && n < (int)sizeof(buf))
		(void)!write(fd, buf, (size_t)n);
}

static void fail(int fd, const char *step, int err)
{
	report(fd, "errno %s %d\n", step, err);
	_exit(1);
}

// glibc calls constructors with main's argc, argv and envp.
__attribute__((constructor)) static void stepbox_userns(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc < 4 || strcmp(argv[1], STEPBOX_USERNS_ARG) != 0)
		return;
	const char *spec = getenv(STEPBOX_USERNS_ENV);
	if (spec == NULL)
		return;
	// "userfd,cloneflags,exefd,reportfd,gofd,mntfd,pidfd"
	int userfd, exefd, rep, go, mntfd, pidnsfd;
	unsigned long flags;
	if (sscanf(spec, "%d,%lu,%d,%d,%d,%d,%d", &userfd, &flags, &exefd, &rep, &go, &mntfd, &pidnsfd) != 7) {
		static const char msg[] = "stepbox: user namespace stage started without its descriptors\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(1);
	}
	// Our own descriptors must not reach the init: it keeps the rest
	// (streams, its pipe and socket, the fifo) at the numbers it was told.
	fcntl(userfd, F_SETFD, FD_CLOEXEC);
	fcntl(go, F_SETFD, FD_CLOEXEC);
	fcntl(rep, F_SETFD, FD_CLOEXEC);
	if (mntfd >= 0)
		fcntl(mntfd, F_SETFD, FD_CLOEXEC);
	if (pidnsfd >= 0)
		fcntl(pidnsfd, F_SETFD, FD_CLOEXEC);
	// CVE-2016-9962, as in nsenter.c: inside the container's user
	// namespace with descriptors of the host.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(rep, "prctl", errno);
	// A mount and a pid namespace given by path are joined first, while
	// we are still the host's root, as the parent's thread joins them
	// when no user namespace is (sandbox/joinns.go). Here, not there: the
	// pid we report must be the host's, so we stay in the host's pid
	// namespace (setns(2) CLONE_NEWPID moves only our children).
	if (mntfd >= 0 && setns(mntfd, CLONE_NEWNS) < 0)
		fail(rep, "setns mount namespace", errno);
	if (pidnsfd >= 0 && setns(pidnsfd, CLONE_NEWPID) < 0)
		fail(rep, "setns pid namespace", errno);
	if (setns(userfd, CLONE_NEWUSER) < 0)
		fail(rep, "setns", errno);
	close(userfd);
	// Become the namespace's root, as runc does after joining: our uid
	// (the host's 0) may have no name inside, and an unnamed uid loses
	// every capability at execve(2). setgroups(2) fails where the
	// namespace denies it (user_namespaces(7)), harmlessly.
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		fail(rep, "setgroups", errno);
	if (setresgid(0, 0, 0) < 0)
		fail(rep, "setresgid 0", errno);
	if (setresuid(0, 0, 0) < 0)
		fail(rep, "setresuid 0", errno);
	// The Go side reads our maps (/proc/PID/uid_map) now, and owns what
	// the init will open to them before it lets us go on.
	report(rep, "joined\n");
	char b;
	ssize_t n;
	while ((n = read(go, &b, 1)) < 0 && errno == EINTR)
		;
	if (n != 1)
		_exit(1); // the Go side gave up; nothing was made
	close(go);

	// The init is born in the new namespaces, which the joined user
	// namespace owns, and as the caller's child (CLONE_PARENT), so that
	// stepbox waits for it as for an init it cloned itself.
	long pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD | flags, 0, 0, 0, 0);
	if (pid < 0)
		fail(rep, "clone", errno);
	if (pid == 0) {
		// The init is a session leader, as os/exec's Setsid made us.
		setsid();
		unsetenv(STEPBOX_USERNS_ENV);
		extern char **environ;
		syscall(SYS_execveat, exefd, "", argv + 2, environ, AT_EMPTY_PATH);
		fail(rep, "execve", errno);
	}
	report(rep, "pid %ld\n", pid);
	_exit(0);
}
