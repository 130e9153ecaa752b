// Package sandbox is stepbox's container runtime: the one code path under
// `stepbox run`, every lesson step and (later) the runc-compatible commands.
//
// A container is described by an OCI runtime-spec [specs.Spec] plus a few
// stepbox [Options]. [Create] starts a re-executed copy of stepbox (from a
// sealed memfd, CVE-2019-5736) in the new namespaces; the parent puts it into
// its cgroups and hands it the configuration over a pipe; the child prepares
// the root filesystem, drops privileges and waits; [Container.Start] lets it
// execve(2) the payload. Every failure in the child is reported back over a
// socket as one error, and everything the attempt made is removed.
//
// Go cannot fork without exec, and a running Go process is multi-threaded, so
// the child cannot unshare(2) a mount or user namespace; those come from
// clone(2) flags. The cgroup and time namespaces are unshared by the child
// itself: the cgroup namespace must be rooted at the container's cgroup, which
// exists only after the parent moved the child there, and time offsets can
// only be written before any process enters the namespace (time_namespaces(7)).
package sandbox
