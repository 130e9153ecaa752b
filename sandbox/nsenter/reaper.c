// The minimal init (`stepbox run --init`, the default; docker run --init)
// once the container is set up: PID 1 of the container, the payload's
// parent. It starts the payload in a process group of its own, passes on
// the signals a user or an engine sends to stop, reload or resize a
// program, reaps every orphan of the pid namespace, and exits with the
// payload's status (128+n for signal n) when it ends; the kernel then kills
// what is left (pid_namespaces(7)).
//
// The Go init sets the container up (the lessons' code path), then
// executes this constructor's binary (stepbox-exec, from the same
// read-only view as itself) with the payload's identity, capabilities and
// seccomp filter already in place; those cross execve(2) as they would to
// the payload. What stays beside the payload is then one thread of C, not
// a Go runtime: about 0.3 MiB and one task against the pids limit, where
// the Go init was 4.3 MiB and seven, each thread of which had to be
// confined; and no os/signal set-up on the way to the payload (DESIGN.md,
// "The minimal init in C").
//
// It does nothing unless argv[1] is STEPBOX_REAP_ARG and STEPBOX_REAP_ENV
// is set; it never enters Go. The protocol is the Go second stage's
// (sandbox/init_linux.go, reexecReaper): argv is {name, STEPBOX_REAP_ARG,
// path, payload argv...}, the environment is the payload's plus
// STEPBOX_REAP_ENV="syncfd,preserve,terminal". A failed execve(2) of the
// payload is reported on the sync socket as the Go init reports it
// ({"error", "notfound" or "noexec", "exec NAME: reason"}) and the process
// exits 127 or 126; once the payload runs the socket is closed.
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nsenter.h"

// posix_spawn_file_actions_addtcsetpgrp_np, for the terminal's foreground
// group, came with glibc 2.35 (README.md, requirements).
#if defined(__GLIBC__) && !__GLIBC_PREREQ(2, 35)
#error "stepbox-exec needs glibc 2.35 or later (posix_spawn_file_actions_addtcsetpgrp_np)"
#endif

#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

const char *stepbox_reap_env(void) { return STEPBOX_REAP_ENV; }
const char *stepbox_reap_arg(void) { return STEPBOX_REAP_ARG; }

// The signals passed on to the payload's process group: the Go init's
// forwarded list (init_linux.go), which a test compares with this one.
static const int forwarded[] = {SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGPIPE,
				SIGALRM, SIGTERM, SIGCONT, SIGWINCH, SIGPWR};

int stepbox_reap_forwarded(int i)
{
	return i < (int)(sizeof(forwarded) / sizeof(forwarded[0])) ? forwarded[i] : 0;
}

// reap_error sends {"error", kind, message} on the sync socket, the sync
// protocol's framing (sandbox/sync.go: the fields joined by NUL bytes), and
// exits with code.
static void reap_error(int sync, const char *kind, const char *message, int code)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "error%c%s%c%s", 0, kind, 0, message);
	if (n > (int)sizeof(buf))
		n = sizeof(buf);
	if (sync >= 0)
		while (send(sync, buf, (size_t)n, MSG_NOSIGNAL) < 0 && errno == EINTR)
			;
	_exit(code);
}

// exec_error reports a failed execve(2) of name as the Go init does
// (execError): 127 when the file or its interpreter is missing, 126 when
// it cannot be executed, with Go's lower-case wording of the errno.
static void exec_error(int sync, const char *name, int err)
{
	char reason[128], message[400];
	snprintf(reason, sizeof(reason), "%s", strerror(err));
	reason[0] = (char)tolower((unsigned char)reason[0]);
	snprintf(message, sizeof(message), "exec %s: %s", name, reason);
	if (err == ENOENT)
		reap_error(sync, "notfound", message, 127);
	reap_error(sync, "noexec", message, 126);
}

static void step_error(int sync, const char *step, int err)
{
	char message[160];
	snprintf(message, sizeof(message), "minimal init: %s: %s", step, strerror(err));
	reap_error(sync, "", message, 1);
}

// start_payload starts the payload and returns its pid once execve(2) has
// succeeded; a failure is reported and ends the process. posix_spawn(3)
// clones with CLONE_VM|CLONE_VFORK, as Go's ForkExec does, which costs
// less than a fork and reports a failed execve with its errno. The child
// gets a process group of its own, which the forwarded signals reach
// whole; on a terminal it is the foreground group, so that Ctrl-C reaches
// it (glibc 2.35's tcsetpgrp file action); its signal mask is saved's.
static pid_t start_payload(int sync, int terminal, const char *path, char **argv, char **envp, const sigset_t *saved)
{
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t actions;
	int err = posix_spawnattr_init(&attr);
	if (err == 0)
		err = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
	if (err == 0)
		err = posix_spawnattr_setpgroup(&attr, 0);
	if (err == 0)
		err = posix_spawnattr_setsigmask(&attr, saved);
	if (err == 0)
		err = posix_spawn_file_actions_init(&actions);
	if (err == 0 && terminal)
		err = posix_spawn_file_actions_addtcsetpgrp_np(&actions, 0);
	if (err != 0)
		step_error(sync, "posix_spawn attributes", err);
	pid_t pid;
	err = posix_spawn(&pid, path, &actions, &attr, argv, envp);
	if (err != 0)
		exec_error(sync, argv[0], err);
	return pid;
}

// exit_as ends the minimal init with the payload's status, as a shell
// would report it: its exit code, or 128+n for signal n.
static void exit_as(int status)
{
	if (WIFSIGNALED(status))
		_exit(128 + WTERMSIG(status));
	_exit(WEXITSTATUS(status));
}

// wait_only reaps until the payload ends, when no signal can be taken (a
// seccomp profile that refuses rt_sigtimedwait(2)): nothing is passed on
// then, but nothing spins either.
static void wait_only(pid_t child)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, 0);
		if (pid < 0 && errno != EINTR)
			_exit(1);
		if (pid == child)
			exit_as(status);
	}
}

// glibc calls constructors with main's argc, argv and envp.
__attribute__((constructor)) static void stepbox_reap(int argc, char **argv, char **envp)
{
	if (argc < 4 || strcmp(argv[1], STEPBOX_REAP_ARG) != 0)
		return;
	const char *spec = getenv(STEPBOX_REAP_ENV);
	if (spec == NULL)
		return;
	int sync = -1, preserve = 0, terminal = 0;
	if (sscanf(spec, "%d,%d,%d", &sync, &preserve, &terminal) != 3 || sync < 0 || preserve < 0) {
		fprintf(stderr, "stepbox init: the minimal init was started without its arguments\n");
		_exit(1);
	}
	// As the Go init is (CVE-2016-9962): until the socket is closed it
	// leads to the host, and the payload's user must not ptrace us or open
	// /proc/1/fd. execve(2) made us dumpable again.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	// ps inside the container names PID 1 as it did before the execve.
	prctl(PR_SET_NAME, "stepbox-init", 0, 0, 0);
	unsetenv(STEPBOX_REAP_ENV);

	// Nothing of ours but 0, 1, 2 and the preserved descriptors reaches
	// the payload.
	if (syscall(SYS_close_range, 3 + preserve, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3 + preserve; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	fcntl(sync, F_SETFD, FD_CLOEXEC);

	// The signals are blocked and taken with sigwaitinfo(2): no handler
	// runs, none can interrupt the loop. A signal blocked in PID 1 waits
	// for us; one left at SIG_DFL and unblocked would be dropped
	// (pid_namespaces(7)).
	sigset_t set, saved;
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(forwarded) / sizeof(forwarded[0]); i++)
		sigaddset(&set, forwarded[i]);
	sigaddset(&set, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &set, &saved) < 0)
		step_error(sync, "sigprocmask", errno);

	pid_t child = start_payload(sync, terminal, argv[2], argv + 3, environ, &saved);
	close(sync); // end of stream: the payload runs

	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(&set, &info);
		if (sig < 0 && errno == EINTR)
			continue; // a stop and continue of PID 1
		if (sig < 0)
			wait_only(child); // a seccomp profile refuses it
		if (sig != SIGCHLD) {
			if (kill(-child, sig) < 0)
				kill(child, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0)
				break;
			if (pid == child)
				exit_as(status); // else an orphan the namespace left us
		}
	}
}
