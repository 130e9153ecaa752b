// Package builtinfs makes and checks stepbox's built-in root filesystem,
// the directory a container runs in when no other is given: a static
// busybox from the host, or the host's own shell and tools with their
// shared libraries, plus stepbox itself as /bin/stepbox, described by a
// manifest of every file and its checksum (Default, Build, ReadManifest,
// Verify).
//
// It is apart from package rootfs, which mounts a root filesystem inside
// the container's init, so that the init (cmd/stepbox-init) links none of
// it: reading ELF files and hashing them are the command line's work.
package builtinfs
