// Package nsenter is the part of `exec` that must run before the Go
// runtime: a C constructor (nsenter.c) that, in a process started as the
// exec stage, enters every namespace of a running container with setns(2)
// while the process is still single-threaded, forks, and lets only the
// child go on into Go. A Go process cannot do this itself: the runtime has
// started threads before any Go code runs, and a multi-threaded process may
// not join a user or mount namespace (setns(2), EINVAL).
//
// Any binary that imports this package carries the constructor; it returns
// at once unless argv[1] is [Arg] and the environment has [Env], so a
// normal start pays one string comparison. The sandbox package starts the
// stage and runs the child's Go half (sandbox/exec_init.go); DESIGN.md,
// "Entering a running container", argues the design.
//
// [Env] holds "pidfd,flags,timefd,rootfd,syncfd,…" (decimal; -1 for none):
//
//   - pidfd: a pidfd of the container's init, whose namespaces flags
//     (CLONE_NEW*) name, all joined in one setns(2) (Linux 5.8);
//   - timefd: the init's /proc/PID/ns/time_for_children, joined apart;
//   - rootfd: the init's /proc/PID/root, made the root (chroot(2));
//   - syncfd: the sync socket (sandbox/sync.go), on which a failed step is
//     reported as {"errno", step, errno}, and the child's host pid as
//     {"pid", "", pid} with a pidfd of it attached.
//
// What follows syncfd belongs to the Go half. The first process waits for
// the child and exits with its status (128+n for signal n).
//
// Built without cgo, the package has no constructor and [Available] is
// false: such a binary cannot enter containers, and the sandbox package says
// so instead of running anything.
package nsenter
