package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// A cgroup is driven entirely through files (cgroups(7), the kernel's
// Documentation/admin-guide/cgroup-v2.rst): mkdir makes one, a write to an
// interface file sets a limit or moves a process, a read gives usage, rmdir
// removes it. The manager's reads and writes of cgroup files go through
// these helpers, straight to the system calls: os.File would add a poller
// registration (and its failure) to every one of the dozens of small writes
// a container start makes.

// writeFile writes value to an existing cgroup file with one write(2), as
// cgroupfs parses each write on its own. On a fake tree (create=true) the file
// is created or truncated first.
func writeFile(path, value string, create bool) error {
	flags := unix.O_WRONLY | unix.O_CLOEXEC
	if create {
		flags |= unix.O_CREAT | unix.O_TRUNC
	}
	fd, err := openRetry(path, flags, 0o644)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	b := []byte(value)
	for {
		n, err := unix.Write(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n != len(b) {
			return fmt.Errorf("short write (%d of %d bytes)", n, len(b))
		}
		return nil
	}
}

// readFile returns a cgroup file's contents. cgroupfs files report size 0,
// so it reads until end of file instead of trusting stat.
func readFile(path string) (string, error) {
	fd, err := openRetry(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, make([]byte, cap(buf))...)[:len(buf)]
		}
		n, err := unix.Read(fd, buf[len(buf):cap(buf)])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return "", err
		}
		if n == 0 {
			return string(buf), nil
		}
		buf = buf[:len(buf)+n]
	}
}

func openRetry(path string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Open(path, flags, mode)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

// readInt reads a file holding one number, or "max" (returned as -1).
func readInt(path string) (int64, error) {
	s, err := readFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	v, err := parseInt(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return v, nil
}

func parseInt(s string) (int64, error) {
	if s == "max" {
		return -1, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// v1 reports "unlimited" as a huge unsigned number
		// (PAGE_COUNTER_MAX pages in bytes, or 2^64-1 for some files).
		if u, uerr := strconv.ParseUint(s, 10, 64); uerr == nil && u > 1<<62 {
			return -1, nil
		}
		return 0, err
	}
	return v, nil
}

// readKeyed parses a flat keyed file ("key value" per line: cpu.stat,
// memory.events, pids.events, memory.oom_control).
func readKeyed(path string) (map[string]uint64, error) {
	s, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := map[string]uint64{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		out[k] = n
	}
	return out, nil
}

// readPids parses cgroup.procs: one pid a line.
func readPids(path string) ([]int, error) {
	s, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var out []int
	for _, f := range strings.Fields(s) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%s: bad pid %q", path, f)
		}
		out = append(out, pid)
	}
	return out, nil
}

// mkdir makes one cgroup directory and reports whether it made it (false:
// it was there already).
func mkdir(dir string) (bool, error) {
	err := unix.Mkdir(dir, 0o755)
	if err == nil {
		return true, nil
	}
	if err == unix.EEXIST {
		return false, nil
	}
	return false, &fs.PathError{Op: "mkdir", Path: dir, Err: err}
}

// subdirs lists the child cgroups of dir.
func subdirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, dir+"/"+e.Name())
		}
	}
	return out, nil
}

// rmdir removes one cgroup directory; a missing one counts as removed. On a
// fake tree the plain files a test left in it are removed first, since there
// they are not the kernel's.
func rmdir(dir string, fake bool) error {
	if fake {
		if ents, err := os.ReadDir(dir); err == nil {
			for _, e := range ents {
				if !e.IsDir() {
					_ = os.Remove(dir + "/" + e.Name())
				}
			}
		}
	}
	err := unix.Rmdir(dir)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return err
}

func exists(path string) bool {
	return unix.Access(path, unix.F_OK) == nil
}
