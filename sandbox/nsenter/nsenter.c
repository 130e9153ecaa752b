// The first half of `exec` into a running container: this constructor runs
// before the Go runtime of stepbox-exec (the binary that links package
// nsenter), and so in a process that is still single-threaded, which
// setns(2) into a user, mount or time namespace demands (EINVAL, EUSERS).
// Go cannot do this itself: its runtime starts threads before any Go code
// runs.
//
// It does nothing unless the process was started as the exec stage
// (argv[1] is STEPBOX_EXEC_ARG and STEPBOX_EXEC_ENV is set); otherwise it
// costs a string comparison. See doc.go for the protocol and DESIGN.md,
// "Entering a running container", for why it is shaped this way.
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsenter.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

// Set in the child that goes on into the Go runtime, inside every
// namespace; read by nsenter.Entered. A Go half that finds it unset was not
// entered (a binary built without this file) and must not go on.
int stepbox_nsenter_entered;

const char *stepbox_nsenter_env(void) { return STEPBOX_EXEC_ENV; }
const char *stepbox_nsenter_arg(void) { return STEPBOX_EXEC_ARG; }

// send_msg writes one message of the sync protocol (sandbox/sync.go: type,
// kind and message joined by NUL bytes) with fd attached when fd >= 0.
static void send_msg(int sock, const char *type, const char *kind, long value, int fd)
{
	char buf[128];
	int n = snprintf(buf, sizeof(buf), "%s%c%s%c%ld", type, 0, kind, 0, value);
	struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = sizeof(control.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

// fail reports a failed step as its errno, which the Go side wraps
// ("exec in container X: setns: operation not permitted"), and ends the
// process: nothing has been made that outlives it.
static void fail(int sock, const char *step, int err)
{
	send_msg(sock, "errno", step, err, -1);
	_exit(1);
}

// relay waits for the child and ends with its status, as a shell reports
// it: the code it exited with, or 128+n when signal n killed it. The parent
// stepbox started this process and waits for it; it cannot wait for the
// child, which is not its own.
static void relay(pid_t child)
{
	int status;
	for (;;) {
		pid_t r = waitpid(child, &status, 0);
		if (r == child)
			break;
		if (r < 0 && errno != EINTR)
			_exit(125);
	}
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

// glibc calls constructors with main's argc, argv and envp (musl does not;
// the build links glibc statically).
__attribute__((constructor)) static void stepbox_nsenter(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc < 2 || strcmp(argv[1], STEPBOX_EXEC_ARG) != 0)
		return;
	const char *spec = getenv(STEPBOX_EXEC_ENV);
	if (spec == NULL)
		return;

	// "pidfd,flags,timefd,rootfd,syncfd,...": the rest is the Go half's.
	int pidfd, flags, timefd, rootfd, sync;
	if (sscanf(spec, "%d,%d,%d,%d,%d", &pidfd, &flags, &timefd, &rootfd, &sync) != 5) {
		static const char msg[] = "stepbox: exec stage started without its descriptors\n";
		(void)!write(2, msg, sizeof(msg) - 1);
		_exit(1);
	}
	int release = flags & STEPBOX_EXEC_RELEASE;
	flags &= ~STEPBOX_EXEC_RELEASE;
	// CVE-2016-9962: from here the process is inside the container and
	// still holds descriptors of the host. Not dumpable, no process of the
	// container can ptrace it or open /proc/PID/fd, whatever capabilities it
	// has in its own user namespace (the check is against the user
	// namespace the binary was executed in, the host's). Inherited by the
	// child through fork; the payload's execve(2) resets it.
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		fail(sync, "prctl PR_SET_DUMPABLE", errno);
	prctl(PR_SET_NAME, (unsigned long)"stepbox-exec", 0, 0, 0);

	// Every namespace of the container's init at once, in one system call
	// (setns(2) with a pidfd, Linux 5.8): the kernel joins the user
	// namespace first and checks the others against it, all or nothing.
	// The pid namespace applies to children only, hence the fork below.
	if (flags != 0 && setns(pidfd, flags) < 0)
		fail(sync, "setns", errno);
	// The time namespace the init's children live in, which is not the
	// init's own when it is the minimal init (sandbox/init_linux.go,
	// unshareTime). Joining one moves the caller itself, and needs a
	// single-threaded caller (EUSERS).
	if (timefd >= 0 && setns(timefd, CLONE_NEWTIME) < 0)
		fail(sync, "setns time namespace", errno);
	// The init's root, which setns(CLONE_NEWNS) does not give when the
	// init entered it with chroot(2) rather than pivot_root(2).
	if (rootfd >= 0 && (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0))
		fail(sync, "enter the container's root", errno);
	close(pidfd);
	if (timefd >= 0)
		close(timefd);
	if (rootfd >= 0)
		close(rootfd);
	// In a user namespace of its own the container's root is some uid of
	// the host, and ours (the host's 0) has no name inside: become the
	// container's root, so that what the Go half makes (a terminal, say)
	// belongs to it, as it does for the init. The process's own user comes
	// later (security.Finalize). setgroups(2) fails harmlessly where the
	// namespace denies it.
	if (flags & CLONE_NEWUSER) {
		if (setgroups(0, NULL) < 0 && errno != EPERM)
			fail(sync, "setgroups", errno);
		if (setresgid(0, 0, 0) < 0)
			fail(sync, "setresgid 0", errno);
		if (setresuid(0, 0, 0) < 0)
			fail(sync, "setresuid 0", errno);
	}

	pid_t child = fork();
	if (child < 0)
		fail(sync, "fork", errno);
	if (child == 0) {
		// Inside every namespace now: on into the Go runtime and the
		// sandbox package's exec stage.
		stepbox_nsenter_entered = 1;
		return;
	}
	// Tell the parent the child's host pid, with a pidfd that names it
	// without a race: it cannot be reaped (and its pid reused) before we
	// wait for it.
	int child_fd = (int)syscall(SYS_pidfd_open, child, 0);
	send_msg(sync, "pid", "", (long)child, child_fd);
	// Nothing of ours is needed any more: the child holds the streams and
	// the sync socket, whose end the parent waits for.
	if (syscall(SYS_close_range, 0, ~0U, 0) < 0) {
		for (int fd = 0; fd < 1024; fd++)
			close(fd);
	}
	if (release)
		// The engine that called `runc exec --detach` waits for the
		// child as the subreaper it is, which it can only do once the
		// child is an orphan (runc's exec process is runc's own child
		// for the same reason, CLONE_PARENT).
		_exit(0);
	relay(child);
}
