// Package rootfs makes a container's filesystem. (stepbox's built-in root
// filesystem, the directory it is made from by default, is package
// builtinfs.)
//
// Setup and Finalize run inside the container's init, in its new mount
// namespace, in the order runc uses (libcontainer prepareRootfs, then the
// runtime's sysctls and hostname, then the masked and read-only paths and
// finalizeRootfs):
//
//  1. Setup makes "/" private (or the requested propagation) so nothing done
//     here reaches the host, bind-mounts the rootfs onto itself so it is a
//     mount point, mounts every OCI mount inside it, fills /dev, and enters it
//     with pivot_root(2) (or chroot(2) for a breakout lesson).
//  2. The runtime writes sysctls and sets the hostname; it may bind the
//     console with BindConsole.
//  3. Finalize makes the read-only paths read-only, masks the masked paths,
//     remounts "/" read-only when asked, and gives "/" a shared or
//     unbindable propagation when asked.
//
// Every path inside the rootfs is resolved relative to a handle on the root
// without following a symlink or a /proc magic link out of it (openat2(2)
// RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS; missing directories are made with
// github.com/cyphar/filepath-securejoin/pathrs-lite, which also does the
// lookups on kernels without openat2), and every mount is made onto the
// resolved descriptor (mount(2) on /proc/self/fd/N, or move_mount(2)), then
// checked to be still inside the root, so a hostile rootfs with
// "etc -> /etc" cannot turn a mount into a mount on the host
// (CVE-2021-30465, CVE-2019-19921, CVE-2023-27561, CVE-2024-45310).
package rootfs
