#!/bin/sh
# What the build (`scripts/deps.sh build`, run by `make build`) and the tests
# (`scripts/deps.sh test`, run by `make deps` and `make test`) need beyond Go,
# and the Debian package each comes in. As root with apt-get it installs the
# packages whose commands are missing; when everything is there it does
# nothing and takes no time. Not root, or without apt-get, it says in one
# line what is missing and goes on: the build then leaves out what needs it,
# and the tests skip, or fail under STEPBOX_TEST_ROOT=1, by their own rules.
#
# To add a tool: one line below, one command a line (a package that brings
# several commands is listed once for each).
set -eu
# Root's tools live in sbin, which `su` without `-` leaves off PATH.
PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin

# command   package          why the build needs it
BUILD_DEPS='
gcc         gcc              cgo for stepbox-exec, whose C constructor enters a running container
libc.a      libc6-dev        the static C library stepbox-exec is linked with (it runs in any container)
'

# command   package          why the tests need it
TEST_DEPS='
unshare     util-linux       witness: makes namespaces without stepbox code
lsns        util-linux       witness: lists namespaces, compared with stepbox ns
nsenter     util-linux       witness: enters a container and looks around
setpriv     util-linux       runs stepbox and witnesses as an unprivileged user
ipcmk       util-linux       makes a System V IPC object for the ipc checks
mount       mount            a required tool of the host-tools rootfs
hostname    hostname         a required tool of the host-tools rootfs
capsh       libcap2-bin      witness: starts a process with capabilities dropped
ip          iproute2         witness for links; a required tool of the host-tools rootfs
nft         nftables         witness: lists the masquerade table of network create --nat (inside the namespaces its test makes)
ps          procps           ps inside containers; a required tool of the host-tools rootfs
pgrep       procps           finds a container process under stepbox
ldd         libc-bin         witness: the libraries the host-tools builder copies
stty        coreutils        the terminal test, on the host-tools rootfs
tty         coreutils        the terminal test, on the host-tools rootfs
dd          coreutils        the OOM test, on the host-tools rootfs
busybox     busybox-static   the busybox kind of rootfs and the test fixtures (must be static)
skopeo      skopeo           witness: reads and writes the docker-archive and oci-archive images stepbox saves and loads
umoci       umoci            witness: unpacks and builds OCI images, compared file by file with what stepbox unpacks
docker-registry docker-registry the real registry (CNCF distribution) pull, push and login are tested against, started by each test on 127.0.0.1
htpasswd    apache2-utils    writes the bcrypt htpasswd file of the test registry users (login tests)
podman      podman           a real engine driving stepbox as its OCI runtime (run, exec, logs, stop, a terminal)
conmon      conmon           the monitor podman starts, which calls the runtime as runc (comes with podman)
containerd  containerd       a real engine: the runc shim of containerd drives stepbox as runc (ctr run --runc-binary)
ctr         containerd       the client of containerd, for that test
runc        runc             the peer make validate and make bench compare stepbox with
crun        crun             the other peer of make validate and make bench
buildah     buildah          the peer stepbox build is compared with: the same context, the same files and config (--isolation chroot)
asciinema   asciinema        witness: plays the recordings of learn --record and tour --record (asciicast v2) to the end
'
case ${1:-test} in
build) DEPS=$BUILD_DEPS; what=build ;;
test) DEPS=$TEST_DEPS; what=tests ;;
*) echo "usage: scripts/deps.sh build|test" >&2; exit 2 ;;
esac

# have CMD: the command is on PATH (and, for busybox, static: a rootfs
# without libraries runs only a static one); libc.a is a file the C
# compiler finds.
have() {
	if [ "$1" = libc.a ]; then
		p=$(gcc -print-file-name=libc.a 2>/dev/null) && [ -f "$p" ]
		return
	fi
	p=$(command -v "$1" 2>/dev/null) || return 1
	case $1 in
	busybox)
		case $(LC_ALL=C ldd "$p" 2>&1) in
		*"not a dynamic executable"* | *"statically linked"*) return 0 ;;
		esac
		return 1
		;;
	esac
	return 0
}

# missing prints "package command" for every command not there.
missing() {
	echo "$DEPS" | while read -r cmd pkg _; do
		case $cmd in '' | '#'*) continue ;; esac
		have "$cmd" || echo "$pkg $cmd"
	done
}

# words N: field N (1 or 2) of each line, each word once, on one line.
words() {
	out=
	while read -r a b; do
		w=$a
		[ "$1" = 2 ] && w=$b
		case " $out " in *" $w "*) ;; *) out="${out:+$out }$w" ;; esac
	done
	echo "$out"
}

# The throw-away pure cgroup v2 machine (../shared/tools/v2vm), where the
# repository has it beside it: the v2 driver is tested for real there (the
# build machines are hybrid). Its qemu comes in a package of its own.
v2vm=$(dirname "$0")/../../shared/tools/v2vm/run-v2.sh
if [ -f "$v2vm" ] && [ "$what" = tests ]; then
	DEPS="$DEPS
qemu-system-x86_64 qemu-system-x86 boots the pure cgroup v2 machine of ../shared/tools/v2vm"
fi

if [ "$what" = build ] && ! command -v go >/dev/null 2>&1; then
	echo "deps: go is not on PATH; install Go (see README.md, Requirements)" >&2
fi
need=$(missing)
[ -z "$need" ] && exit 0
pkgs=$(echo "$need" | words 1)
cmds=$(echo "$need" | words 2)
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	why="not root"
	[ "$(id -u)" = 0 ] && why="no apt-get"
	echo "deps: the $what lack $cmds ($why, so not installing); as root: apt-get install --no-install-recommends $pkgs" >&2
	exit 0
fi

echo "deps: installing $pkgs for the $what ($cmds)"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # one word per package
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $pkgs >/dev/null; }; then
	echo "deps: apt-get could not install $pkgs; the $what lack $cmds" >&2
	exit 0
fi
# docker-registry ships a service on :5000 with /etc/docker/registry; the
# tests start their own registries and never use it. Debian's policy-rc.d
# (or the lack of an init system) normally keeps the package from starting
# it; if it did start, stop it again: nothing of the tests may be left
# listening.
case " $pkgs " in
*" docker-registry "*)
	if [ -f /run/docker-registry.pid ] && kill -0 "$(cat /run/docker-registry.pid)" 2>/dev/null; then
		echo "deps: stopping the docker-registry service the package started (the tests start their own)"
		/etc/init.d/docker-registry stop >/dev/null 2>&1 || true
	fi
	;;
esac
still=$(missing)
if [ -n "$still" ]; then
	echo "deps: still missing after apt-get: $(echo "$still" | words 2)" >&2
fi
exit 0
