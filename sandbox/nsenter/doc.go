// Package nsenter is the part of `exec` that must run before the Go
// runtime: a C constructor (nsenter.c) that, in a process started as the
// exec stage, enters every namespace of a running container with setns(2)
// while the process is still single-threaded, forks, and lets only the
// child go on into Go. A Go process cannot do this itself: the runtime has
// started threads before any Go code runs, and a multi-threaded process may
// not join a user or mount namespace (setns(2), EINVAL).
//
// Only cmd/stepbox-exec imports it: a binary that does carries the
// constructor, needs cgo and is linked statically (see nsenter.go). The
// constructor returns at once unless argv[1] is sandbox.ExecStageArg and
// the environment has sandbox.ExecStageEnv. The sandbox package starts the
// stage (Container.Exec) and runs the child's Go half (RunExecStage);
// DESIGN.md, "Entering a running container", argues the design.
//
// sandbox.ExecStageEnv holds "pidfd,flags,timefd,rootfd,syncfd,…"
// (decimal; -1 for none):
//
//   - pidfd: a pidfd of the container's init, whose namespaces flags
//     (CLONE_NEW*) name, all joined in one setns(2) (Linux 5.8); bit 0 of
//     flags (STEPBOX_EXEC_RELEASE) makes the first process exit once the
//     child runs, leaving it to the caller's subreaper;
//   - timefd: the init's /proc/PID/ns/time_for_children, joined apart;
//   - rootfd: the init's /proc/PID/root, made the root (chroot(2));
//   - syncfd: the sync socket (sandbox/sync.go), on which a failed step is
//     reported as {"errno", step, errno}, and the child's host pid as
//     {"pid", "", pid} with a pidfd of it attached.
//
// What follows syncfd belongs to the Go half. The first process waits for
// the child and exits with its status (128+n for signal n).
//
// A second constructor (userns.c) serves create, not exec: started with
// argv[1] sandbox.UserNSStageArg, it joins a user namespace given by path
// in config.json (and mount and pid ones), clones the container's init
// into the new namespaces as its caller's child and executes it; it never
// enters Go (sandbox/joinuserns.go has the protocol).
//
// A third constructor (reaper.c) is the minimal init: started with
// argv[1] sandbox.ReapStageArg by the container's Go init once the
// container is set up, it starts the payload, passes signals on to its
// process group, reaps orphans and exits with the payload's status; it
// never enters Go either (its protocol is the Go second stage's,
// sandbox/init_linux.go, reapStage).
//
// Built without cgo, the package has no constructor, [Available] is false
// and [Entered] always false: stepbox-exec then refuses to run anything.
package nsenter
