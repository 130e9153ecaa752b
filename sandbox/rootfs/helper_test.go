package rootfs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
	"golang.org/x/sys/unix"
)

// The kernel tests run Setup and Finalize in a re-executed copy of the test
// binary started in new namespaces (GO_WANT_HELPER_PROCESS style), so the
// test process and the host never see what they do. The helper is told what
// to do by a JSON helperConfig in helperEnv, and answers with a JSON
// helperReport on stdout (or execs a command, whose output is the answer).
const helperEnv = "STEPBOX_ROOTFS_HELPER"

func TestMain(m *testing.M) {
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(helperMain(cfg))
	}
	testutil.Main(m)
}

// probe is one observation the helper makes after Setup and Finalize.
type probe struct {
	Op   string // read, openw, create, stat, readlink, ls, fstype
	Path string
	Data string // for create
}

type probeResult struct {
	Out string `json:",omitempty"`
	Err string `json:",omitempty"` // errno name, or the error text
}

type helperConfig struct {
	Options  Options
	Hostname string
	Probes   []probe
	Exec     []string // after Setup and Finalize, execve this (PATH inside the root)
	// Overlay: mount an overlayfs with Options.Root as its lower layer at
	// Merged, and make that the root.
	Overlay        bool
	Upper, Work    string
	Merged         string
	Console        bool   // open a pty in the container's devpts and BindConsole it
	Sabotage       string // a hostile change made between Setup and Finalize (see sabotage)
	Outer          bool   // make "/" rshared, run the helper again inside, report what it left here
	InnerCloneflag uintptr
	Bench          int  // run Setup+Finalize this many times, each in a fresh mount namespace
	MountSyscall   bool // only mount(2): the way taken on kernels without mount_setattr(2)
	PureV2         bool // make the helper's host look like a pure cgroup v2 one first
}

type helperReport struct {
	SetupErr    string                     `json:",omitempty"`
	FinalizeErr string                     `json:",omitempty"`
	ConsoleErr  string                     `json:",omitempty"`
	Pid         int                        `json:",omitempty"`
	Results     map[string]probeResult     `json:",omitempty"`
	Mounts      []string                   `json:",omitempty"` // "mountpoint fstype" inside, after everything
	Leftover    []string                   `json:",omitempty"` // Outer: mounts the inner helper left in the outer namespace
	Inner       *helperReport              `json:",omitempty"`
	SetupTimes  []time.Duration            `json:",omitempty"`
	StepTimes   map[string][]time.Duration `json:",omitempty"`
	FinalTimes  []time.Duration            `json:",omitempty"`
	Extra       map[string]string          `json:",omitempty"`
	Options     Options                    // as the helper was given them
}

func helperMain(raw string) int {
	var cfg helperConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "helper: bad config:", err)
		return 2
	}
	var rep helperReport
	if cfg.MountSyscall {
		newMountAPI = false
	}
	switch {
	case cfg.Outer:
		rep = helperOuter(cfg)
	case cfg.Bench > 0:
		rep = helperBench(cfg)
	default:
		rep = helperRun(cfg)
	}
	if err := json.NewEncoder(os.Stdout).Encode(rep); err != nil {
		return 2
	}
	return 0
}

func helperRun(cfg helperConfig) helperReport {
	rep := helperReport{Pid: os.Getpid(), Results: map[string]probeResult{}, Options: cfg.Options}
	o := cfg.Options
	if cfg.Overlay {
		if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
			rep.SetupErr = "helper: " + err.Error()
			return rep
		}
		data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", o.Root, cfg.Upper, cfg.Work)
		if err := unix.Mount("overlay", cfg.Merged, "overlay", 0, data); err != nil {
			rep.SetupErr = "helper: mount overlay: " + err.Error()
			return rep
		}
		o.Root = cfg.Merged
	}
	if cfg.PureV2 {
		if err := pretendPureV2(); err != nil {
			rep.SetupErr = "helper: " + err.Error()
			return rep
		}
	}
	if err := Setup(&o); err != nil {
		rep.SetupErr = err.Error()
		return rep
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			rep.SetupErr = "helper: sethostname: " + err.Error()
			return rep
		}
	}
	if cfg.Sabotage != "" {
		if err := sabotage(cfg.Sabotage); err != nil {
			rep.FinalizeErr = "helper: sabotage: " + err.Error()
			return rep
		}
	}
	if cfg.Console {
		if err := helperConsole(); err != nil {
			rep.ConsoleErr = err.Error()
		}
	}
	if err := Finalize(&o); err != nil {
		rep.FinalizeErr = err.Error()
		return rep
	}
	for _, p := range cfg.Probes {
		rep.Results[p.Op+" "+p.Path] = runProbe(p)
	}
	rep.Mounts = ownMounts()
	if os.Getenv("STEPBOX_ROOTFS_DEBUG") != "" {
		b, _ := os.ReadFile("/proc/self/mountinfo")
		fmt.Fprintf(os.Stderr, "%s", b)
	}
	if len(cfg.Exec) > 0 {
		path := cfg.Exec[0]
		env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"}
		if !strings.Contains(path, "/") {
			for _, d := range []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin"} {
				if _, err := os.Stat(d + "/" + path); err == nil {
					path = d + "/" + path
					break
				}
			}
		}
		err := syscall.Exec(path, cfg.Exec, env)
		rep.SetupErr = "helper: exec " + path + ": " + err.Error()
	}
	return rep
}

// pretendPureV2 replaces, in the helper's own mount namespace, whatever the
// host mounts at /sys/fs/cgroup by a cgroup2 mount, the layout of most hosts
// today.
func pretendPureV2() error {
	if err := unix.Mount("", "/", "", unix.MS_PRIVATE|unix.MS_REC, ""); err != nil {
		return err
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(cgroupRoot, &sfs); err != nil {
		return err
	}
	if sfs.Type == unix.CGROUP2_SUPER_MAGIC {
		return nil
	}
	// In a user namespace the inherited mounts are locked (EINVAL): the
	// cgroup2 mount then covers them instead.
	_ = unix.Unmount(cgroupRoot, unix.MNT_DETACH)
	return unix.Mount("cgroup2", cgroupRoot, "cgroup2", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
}

// helperConsole opens a pty in the container's own devpts and binds its peer
// onto /dev/console, as the runtime will.
func helperConsole() error {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer master.Close()
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		return fmt.Errorf("unlockpt: %w", err)
	}
	// TIOCGPTPEER takes the open flags of the peer and returns its descriptor
	// (ioctl_tty(2)).
	fd, _, errno := unix.Syscall(unix.SYS_IOCTL, master.Fd(), unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
	if errno != 0 {
		return fmt.Errorf("TIOCGPTPEER: %w", errno)
	}
	defer unix.Close(int(fd))
	return BindConsole(int(fd))
}

// sabotage plays the hostile container between Setup and Finalize.
func sabotage(what string) error {
	switch what {
	case "devnull-symlink":
		// CVE-2025-31133: /dev/null swapped for a link to a procfs file.
		if err := os.Remove("/dev/null"); err != nil {
			return err
		}
		return os.Symlink("/proc/sys/kernel/core_pattern", "/dev/null")
	case "console-symlink":
		// CVE-2025-52565: /dev/console swapped for a link.
		if err := os.Remove("/dev/console"); err != nil {
			return err
		}
		return os.Symlink("/proc/sysrq-trigger", "/dev/console")
	}
	return fmt.Errorf("unknown sabotage %q", what)
}

func runProbe(p probe) probeResult {
	var res probeResult
	set := func(err error) {
		var errno syscall.Errno
		if errors.As(err, &errno) {
			res.Err = unix.ErrnoName(errno)
		} else if err != nil {
			res.Err = err.Error()
		}
	}
	switch p.Op {
	case "read":
		f, err := os.Open(p.Path)
		if err != nil {
			set(err)
			break
		}
		b := make([]byte, 4096)
		n, err := io.ReadFull(f, b)
		f.Close()
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			set(err)
		}
		res.Out = string(b[:n])
	case "openw":
		// Open for writing and write nothing: EROFS comes from open(2).
		fd, err := unix.Open(p.Path, unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOCTTY, 0)
		if err == nil {
			unix.Close(fd)
			res.Out = "writable"
		}
		set(err)
	case "create":
		err := os.WriteFile(p.Path, []byte(p.Data), 0o644)
		set(err)
	case "stat":
		var st unix.Stat_t
		if err := unix.Lstat(p.Path, &st); err != nil {
			set(err)
			break
		}
		res.Out = describe(p.Path, &st)
	case "owner":
		var st unix.Stat_t
		err := unix.Lstat(p.Path, &st)
		res.Out = fmt.Sprintf("%d:%d", st.Uid, st.Gid)
		set(err)
	case "readlink":
		l, err := os.Readlink(p.Path)
		res.Out = l
		set(err)
	case "ls":
		ents, err := os.ReadDir(p.Path)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		res.Out = strings.Join(names, " ")
		set(err)
	case "fstype":
		var sfs unix.Statfs_t
		if err := unix.Statfs(p.Path, &sfs); err != nil {
			set(err)
			break
		}
		res.Out = fsName(sfs.Type)
		if sfs.Flags&unix.ST_RDONLY != 0 {
			res.Out += " ro"
		}
	case "flags":
		var sfs unix.Statfs_t
		if err := unix.Statfs(p.Path, &sfs); err != nil {
			set(err)
			break
		}
		var fl []string
		for _, f := range []struct {
			bit  int64
			name string
		}{{unix.ST_RDONLY, "ro"}, {unix.ST_NOSUID, "nosuid"}, {unix.ST_NODEV, "nodev"}, {unix.ST_NOEXEC, "noexec"}} {
			if sfs.Flags&f.bit != 0 {
				fl = append(fl, f.name)
			}
		}
		res.Out = strings.Join(fl, ",")
	case "mountinfo":
		// The optional fields of the mount at Path (shared:N, master:N).
		b, err := os.ReadFile("/proc/self/mountinfo")
		set(err)
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 6 && f[4] == p.Path {
				var opt []string
				for _, x := range f[6:] {
					if x == "-" {
						break
					}
					opt = append(opt, strings.SplitN(x, ":", 2)[0])
				}
				res.Out = strings.Join(opt, " ")
			}
		}
	case "chroot-escape":
		// The classic breakout (chroot(2) NOTES): chroot into a
		// subdirectory while the working directory stays outside it, walk
		// ".." past the old root, and chroot there. Then read p.Path.
		if err := os.MkdirAll("/.escape", 0o755); err != nil {
			set(err)
			break
		}
		if err := unix.Chroot("/.escape"); err != nil {
			set(err)
			break
		}
		for i := 0; i < 64; i++ {
			_ = unix.Chdir("..")
		}
		if err := unix.Chroot("."); err != nil {
			set(err)
			break
		}
		b, err := os.ReadFile(p.Path)
		res.Out = string(b)
		set(err)
	default:
		res.Err = "unknown probe " + p.Op
	}
	return res
}

func describe(p string, st *unix.Stat_t) string {
	perm := st.Mode & 0o7777
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return fmt.Sprintf("c %d:%d %04o", unix.Major(st.Rdev), unix.Minor(st.Rdev), perm)
	case unix.S_IFBLK:
		return fmt.Sprintf("b %d:%d %04o", unix.Major(st.Rdev), unix.Minor(st.Rdev), perm)
	case unix.S_IFDIR:
		return fmt.Sprintf("d %04o", perm)
	case unix.S_IFLNK:
		l, _ := os.Readlink(p)
		return "l " + l
	case unix.S_IFREG:
		return fmt.Sprintf("f %04o %d", perm, st.Size)
	}
	return fmt.Sprintf("? %o", st.Mode)
}

// mqueueMagic is MQUEUE_MAGIC of linux/magic.h, which x/sys does not name.
const mqueueMagic = 0x19800202

func fsName(magic int64) string {
	switch magic {
	case unix.TMPFS_MAGIC:
		return "tmpfs"
	case unix.PROC_SUPER_MAGIC:
		return "proc"
	case unix.SYSFS_MAGIC:
		return "sysfs"
	case unix.DEVPTS_SUPER_MAGIC:
		return "devpts"
	case mqueueMagic:
		return "mqueue"
	case unix.CGROUP_SUPER_MAGIC:
		return "cgroup"
	case unix.CGROUP2_SUPER_MAGIC:
		return "cgroup2"
	case unix.OVERLAYFS_SUPER_MAGIC:
		return "overlay"
	case unix.EXT4_SUPER_MAGIC:
		return "ext4"
	}
	return fmt.Sprintf("%#x", magic)
}

// ownMounts lists "mountpoint fstype" of the caller's mount namespace.
func ownMounts() []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		for i, x := range f {
			if x == "-" && i+1 < len(f) && len(f) > 4 {
				out = append(out, f[4]+" "+f[i+1])
				break
			}
		}
	}
	return out
}

// helperOuter stands in for a host whose "/" is shared (most systemd hosts):
// it makes its own "/" rshared, runs the real helper in a further mount
// namespace (whose mounts start out as peers of these), and reports any
// mount that propagated back here.
func helperOuter(cfg helperConfig) helperReport {
	var rep helperReport
	if err := unix.Mount("", "/", "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		rep.SetupErr = "outer: make / rshared: " + err.Error()
		return rep
	}
	before := map[string]bool{}
	for _, m := range ownMounts() {
		before[m] = true
	}
	inner := cfg
	inner.Outer = false
	raw, _ := json.Marshal(inner)
	cmd := exec.Command("/proc/self/exe", "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cfg.InnerCloneflag, Pdeathsig: syscall.SIGKILL}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		rep.SetupErr = fmt.Sprintf("outer: inner helper: %v: %s", err, stderr.String())
		return rep
	}
	var in helperReport
	if err := json.Unmarshal(out.Bytes(), &in); err != nil {
		rep.SetupErr = "outer: inner report: " + err.Error()
		return rep
	}
	rep.Inner = &in
	for _, m := range ownMounts() {
		if !before[m] {
			rep.Leftover = append(rep.Leftover, m)
		}
	}
	return rep
}

// helperBench runs Setup and Finalize cfg.Bench times. Each run gets a fresh
// mount namespace on a locked thread (unshare(2) CLONE_NEWNS also unshares
// CLONE_FS, so chdir and pivot_root stay on that thread), and the thread is
// thrown away when its goroutine ends locked.
func helperBench(cfg helperConfig) helperReport {
	rep := helperReport{StepTimes: map[string][]time.Duration{}}
	if cfg.PureV2 {
		if err := pretendPureV2(); err != nil {
			rep.SetupErr = "helper: " + err.Error()
			return rep
		}
	}
	var last time.Time
	stepDone = func(name string) {
		now := time.Now()
		rep.StepTimes[name] = append(rep.StepTimes[name], now.Sub(last))
		last = now
	}
	for i := 0; i < cfg.Bench; i++ {
		type times struct {
			setup, final time.Duration
			err          error
		}
		done := make(chan times)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
			var t times
			if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
				t.err = err
				done <- t
				return
			}
			o := cfg.Options
			start := time.Now()
			last = start
			t.err = Setup(&o)
			t.setup = time.Since(start)
			if t.err == nil {
				start = time.Now()
				last = start
				t.err = Finalize(&o)
				t.final = time.Since(start)
			}
			done <- t
		}()
		t := <-done
		if t.err != nil {
			rep.SetupErr = t.err.Error()
			return rep
		}
		rep.SetupTimes = append(rep.SetupTimes, t.setup)
		rep.FinalTimes = append(rep.FinalTimes, t.final)
	}
	return rep
}

// nsConfig says which namespaces the helper gets.
type nsConfig struct {
	userns   bool // with root mapped to 100000..165535
	noNetNS  bool
	cgroupNS bool
}

const (
	mappedRoot = 100000
	mappedSize = 65536
)

func (n nsConfig) sysProcAttr() *syscall.SysProcAttr {
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET)
	if n.noNetNS {
		flags &^= unix.CLONE_NEWNET
	}
	if n.cgroupNS {
		flags |= unix.CLONE_NEWCGROUP
	}
	a := &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	if n.userns {
		a.Cloneflags |= unix.CLONE_NEWUSER
		a.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: mappedRoot, Size: mappedSize}}
		a.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: mappedRoot, Size: mappedSize}}
		// Become the namespace's root before execve, so the helper has its
		// capabilities there (user_namespaces(7), "Capabilities").
		a.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	return a
}

// helperTimeout bounds one helper run (the benchmarks' included).
const helperTimeout = 2 * time.Minute

// runHelper starts the helper in the namespaces of ns and returns its
// report, or its raw output when cfg.Exec is set.
func runHelper(t testing.TB, ns nsConfig, cfg helperConfig) (helperReport, string) {
	t.Helper()
	cfg.Options.UserNS = cfg.Options.UserNS || ns.userns
	cfg.Options.CgroupNS = cfg.Options.CgroupNS || ns.cgroupNS
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// /proc/self/exe, not os.Args[0]: the mapped root of a user namespace
	// may not search the directories the test binary lies in, and the
	// magic link needs no search permission on them. A helper that hangs
	// is killed (it is PID 1 of its own namespace: everything in it goes
	// too) and fails the test instead of the run.
	ctx, cancel := context.WithTimeout(context.Background(), helperTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/proc/self/exe", "-test.run=^$")
	cmd.WaitDelay = time.Second
	cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	cmd.SysProcAttr = ns.sysProcAttr()
	if cfg.Outer {
		// The outer helper is only a mount namespace; the inner one gets
		// the namespaces asked for.
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
		cfg.InnerCloneflag = ns.sysProcAttr().Cloneflags &^ unix.CLONE_NEWUSER
		raw, _ = json.Marshal(cfg)
		cmd.Env = append(os.Environ(), helperEnv+"="+string(raw))
	}
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("helper still running after %v, killed\nstdout: %s\nstderr: %s", helperTimeout, out.String(), stderr.String())
	}
	if len(cfg.Exec) > 0 {
		if err != nil {
			t.Logf("helper exited: %v; stderr: %s", err, stderr.String())
		}
		return helperReport{}, out.String() + stderr.String()
	}
	if err != nil {
		t.Fatalf("helper: %v\nstdout: %s\nstderr: %s", err, out.String(), stderr.String())
	}
	if os.Getenv("STEPBOX_ROOTFS_DEBUG") != "" {
		t.Logf("helper stderr:\n%s", stderr.String())
	}
	var rep helperReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("helper report: %v\nstdout: %s\nstderr: %s", err, out.String(), stderr.String())
	}
	return rep, ""
}

// testRootfs makes a small root filesystem: busybox as /bin/sh and a marker
// file, with the directories runtimes expect. For a user namespace it is
// owned by the mapped root, and the path to it is made traversable.
func testRootfs(t testing.TB, userns bool) string {
	t.Helper()
	busybox := testutil.StaticBusybox(t)
	dir := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "run"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	testutil.CopyFile(t, busybox, filepath.Join(dir, "bin/busybox"))
	for _, l := range []string{"sh", "ls", "cat", "id", "hostname", "ps", "mount", "echo"} {
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", l)); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WriteFile(t, filepath.Join(dir, "stepbox-test-marker"), "rootfs\n")
	testutil.WriteFile(t, filepath.Join(dir, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
	testutil.WriteFile(t, filepath.Join(dir, "etc/group"), "root:x:0:\ntty:x:5:\n")
	if userns {
		chownTree(t, dir, mappedRoot)
		openPath(t, dir)
	}
	return dir
}

// openPath makes every directory above dir searchable by others, so a mapped
// root can reach it (t.TempDir makes 0700 directories).
func openPath(t testing.TB, dir string) {
	t.Helper()
	for d := filepath.Dir(dir); d != "/"; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func chownTree(t testing.TB, dir string, id int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, id, id)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sentinel makes a host directory with a file whose content must never
// change, and returns a check that fails t if it did or if anything was
// added next to it.
func sentinel(t testing.TB) (dir string, check func()) {
	t.Helper()
	dir = t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, "sentinel"), "untouched\n")
	return dir, func() {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, "sentinel"))
		if err != nil || string(b) != "untouched\n" {
			t.Errorf("host sentinel changed: %q, %v", b, err)
		}
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		if strings.Join(names, " ") != "sentinel" {
			t.Errorf("host directory %s gained entries: %v", dir, names)
		}
	}
}

// want checks one probe result.
func want(t testing.TB, rep helperReport, op, path, out, errno string) {
	t.Helper()
	got, ok := rep.Results[op+" "+path]
	if !ok {
		t.Errorf("%s %s: not probed", op, path)
		return
	}
	if got.Out != out || got.Err != errno {
		t.Errorf("%s %s = (%q, %q), want (%q, %q)", op, path, got.Out, got.Err, out, errno)
	}
}
