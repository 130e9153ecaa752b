package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/cgroups"
)

// Joining an existing user namespace by path (linux.namespaces[] {type:
// user, path}). setns(2) refuses a user namespace to a multi-threaded
// process, so neither we nor the init (Go programs) can join one. A stage
// does it before any Go runtime starts: stepbox-exec's second C
// constructor (sandbox/nsenter/userns.c), which joins the namespace,
// becomes its root, clones the init into the namespaces the spec wants new
// (so they belong to the joined user namespace, as runc's nsexec makes
// them) as our own child (CLONE_PARENT), and executes the init's sealed
// copy there. Mount and pid namespaces by path are joined by the stage
// too, first, as the host's root (joinns.go's thread would leave the stage
// in the pid namespace, and the pid it reports would not be ours); net,
// ipc, uts, cgroup and time by the init, as root of the joined user
// namespace.
//
// The runtime-spec forbids uid and gid mappings with a path (config-linux.md,
// "User namespace mappings"): the namespace's own maps apply, which we read
// from the stage once it is inside (/proc/PID/uid_map).

// UserNSStageArg (argv[1]) and UserNSStageEnv mark stepbox-exec started as
// the user-namespace stage (sandbox/nsenter/nsenter.h says the same).
// UserNSStageEnv holds "userfd,cloneflags,exefd,reportfd,gofd,mntfd,pidfd"
// (-1 for none).
const (
	UserNSStageArg = "userns-init"
	UserNSStageEnv = "_STEPBOX_USERNS"
)

// joinedUserNS returns the path of the user namespace s joins, or "".
func joinedUserNS(s *specs.Spec) string {
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.UserNamespace {
			return ns.Path
		}
	}
	return ""
}

// startInUserNS starts cmd, the init, through the user-namespace stage:
// the stage is born in the container's cgroups, and on return cmd.Process
// is the init itself.
func (c *Container) startInUserNS(cmd *exec.Cmd, path string) error {
	var exeFD int
	if _, err := fmt.Sscanf(cmd.Path, "/proc/self/fd/%d", &exeFD); err != nil {
		return fmt.Errorf("user namespace stage: the init is not a descriptor (%s)", cmd.Path)
	}
	stage, err := sealedExecStage()
	if err != nil {
		return err
	}
	userFile, err := os.OpenFile(path, os.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open user namespace %s: %w", path, err)
	}
	defer userFile.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer repR.Close()
	defer repW.Close()
	goR, goW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer goR.Close()
	defer goW.Close()

	base := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, userFile, stage.file, repW, goR)
	// Mount and pid by path: the stage joins them before the user
	// namespace (see userns.c).
	nsFD := map[specs.LinuxNamespaceType]int{specs.MountNamespace: -1, specs.PIDNamespace: -1}
	for _, ns := range c.spec.Linux.Namespaces {
		if _, ok := nsFD[ns.Type]; ok && ns.Path != "" {
			f, err := os.OpenFile(ns.Path, os.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open %s namespace %s: %w", ns.Type, ns.Path, err)
			}
			defer f.Close()
			nsFD[ns.Type] = 3 + len(cmd.ExtraFiles)
			cmd.ExtraFiles = append(cmd.ExtraFiles, f)
		}
	}
	flags := cmd.SysProcAttr.Cloneflags
	cmd.SysProcAttr.Cloneflags = 0 // the stage clones them, once inside
	cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d,%d,%d,%d,%d,%d,%d", UserNSStageEnv, base, flags, exeFD, base+2, base+3,
		nsFD[specs.MountNamespace], nsFD[specs.PIDNamespace]))
	cmd.Args = append([]string{ExecBinaryName, UserNSStageArg}, cmd.Args...)
	cmd.Path = fmt.Sprintf("/proc/self/fd/%d", base+1)
	if err := cgroups.StartIn(c.cg, cmd); err != nil {
		return err
	}
	stagePid := cmd.Process.Pid
	repW.Close()
	goR.Close()
	lines := bufio.NewReader(repR)
	initPid, err := c.driveUserNSStage(lines, goW, stagePid, path)
	if initPid > 0 {
		p, ferr := os.FindProcess(initPid)
		if ferr == nil && err == nil {
			cmd.Process.Wait() // the stage, gone once it said the pid
			cmd.Process = p
			return nil
		}
		if ferr == nil {
			p.Kill()
			p.Wait()
		}
		err = errors.Join(err, ferr)
	}
	cmd.Process.Kill()
	cmd.Process.Wait()
	return err
}

// driveUserNSStage reads the stage's report: "joined", then, once the
// fifo belongs to the joined namespace's maps and we said go, "pid N".
func (c *Container) driveUserNSStage(lines *bufio.Reader, goW *os.File, stagePid int, path string) (pid int, err error) {
	for {
		line, rerr := lines.ReadString('\n')
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "errno":
			n, _ := strconv.Atoi(f[2])
			err = fmt.Errorf("join user namespace %s: %s: %w", path, f[1], unix.Errno(n))
			if pid > 0 {
				return pid, err // the init failed to execute: reap it
			}
			return 0, err
		case len(f) == 1 && f[0] == "joined":
			if err := c.ownFifoInUserNS(stagePid); err != nil {
				return 0, err
			}
			if _, err := goW.Write([]byte{1}); err != nil {
				return 0, fmt.Errorf("user namespace stage: %w", err)
			}
			goW.Close()
		case len(f) == 2 && f[0] == "pid":
			if pid, err = strconv.Atoi(f[1]); err != nil {
				return 0, fmt.Errorf("user namespace stage said %q", line)
			}
		case rerr != nil:
			// The end: the stage has exited and the init has executed
			// (its copy of the pipe was close-on-exec).
			if pid == 0 {
				return 0, fmt.Errorf("join user namespace %s: the stage ended without starting the init", path)
			}
			return pid, nil
		default:
			return pid, fmt.Errorf("user namespace stage said %q", line)
		}
	}
}

// ownFifoInUserNS gives the start fifo to the payload's user as the joined
// namespace maps it: the init opens it after taking that identity
// (startInit chowned it by the spec, which has no maps here).
func (c *Container) ownFifoInUserNS(stagePid int) error {
	uids, err := readIDMap(fmt.Sprintf("/proc/%d/uid_map", stagePid))
	if err != nil {
		return err
	}
	gids, err := readIDMap(fmt.Sprintf("/proc/%d/gid_map", stagePid))
	if err != nil {
		return err
	}
	u := c.spec.Process.User
	fifo := filepath.Join(c.dir, "exec.fifo")
	if err := os.Chown(fifo, mapID(uids, u.UID), mapID(gids, u.GID)); err != nil {
		return fmt.Errorf("chown %s: %w", fifo, err)
	}
	return nil
}

// readIDMap parses a uid_map or gid_map (user_namespaces(7)): container
// id, host id, count, one range a line.
func readIDMap(path string) ([]specs.LinuxIDMapping, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m []specs.LinuxIDMapping
	for _, line := range strings.FieldsFunc(string(b), func(r rune) bool { return r == '\n' }) {
		var x specs.LinuxIDMapping
		if _, err := fmt.Sscanf(line, "%d %d %d", &x.ContainerID, &x.HostID, &x.Size); err != nil {
			return nil, fmt.Errorf("parse %s: %q", path, line)
		}
		m = append(m, x)
	}
	return m, nil
}
