// Package sandbox is stepbox's container runtime: the one code path under
// `stepbox run`, every lesson step and (later) the runc-compatible commands.
//
// A container is described by an OCI runtime-spec [specs.Spec] plus a few
// stepbox [Options]. [Create] starts the container's init in the new
// namespaces: stepbox-init, or stepbox itself, through a read-only overlay
// view or from a sealed memfd copy (CVE-2019-5736; exeseal.go, exeview.go), born in the container's cgroups
// (cgroups.StartIn); the parent hands it the configuration over a pipe
// (wire.go); the child prepares the root filesystem, drops privileges and
// waits; [Container.Start] lets it execve(2) the payload. Every failure in
// the child is reported back over a socket as one error, and everything the
// attempt made is removed.
//
// Go cannot fork without exec, and a running Go process is multi-threaded, so
// the child cannot unshare(2) a mount or user namespace; those come from
// clone(2) flags. The cgroup and time namespaces are unshared by the child
// itself: the cgroup namespace is rooted at the cgroup the child is in when
// it unshares (the container's, since its birth), and time offsets can only
// be written before any process enters the namespace (time_namespaces(7)).
package sandbox
