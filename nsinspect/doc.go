// Package nsinspect observes, read-only, how isolated a Linux process is, from
// the files the kernel publishes under /proc (proc(5), namespaces(7)).
//
// The entry points:
//
//   - Take(pid) reads a Snapshot of one process: its namespaces, id maps,
//     credentials and capabilities, seccomp and no_new_privs, LSM label,
//     cgroups, root directory, mount table, and what it sees inside its own
//     UTS, network and IPC namespaces (hostname, interfaces, SysV objects).
//     Whatever cannot be read is recorded as a FieldError on that part,
//     never left looking like "isolated".
//   - Compare(target, reference) turns two snapshots into Checks with stable
//     IDs (ns.uts, caps.effective, mnt.propagation, ...) and a Status.
//   - NewReport wraps checks in the JSON envelope documented in SCHEMA.md.
//   - ListNamespaces reads every namespace on the host, like lsns(8).
//   - ProbeHost reads what the host offers a container runtime (stepbox doctor).
//
// Every parser works on bytes and is fuzzed; every reader takes the root of a
// proc tree (Reader.Root), so tests run the same code on fixture trees under
// testdata/ and on the live /proc. The package imports only the standard
// library, golang.org/x/sys/unix and stepbox's own i18n texts (for the host
// probe's bilingual explanations); never sandbox or lessons.
package nsinspect
