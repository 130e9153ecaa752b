package cgroups

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rootControllers is what each fixture's cgroup2 root offers in
// cgroup.controllers.
var rootControllers = map[string]string{
	"v2":        "cpuset cpu io memory hugetlb pids rdma misc",
	"hybrid":    "hugetlb",
	"container": "",
}

// fakeTree makes a fake machine in a temporary directory from
// testdata/mountinfo.NAME and testdata/cgroup.NAME: its /proc/self files, and
// at each cgroup mount the files the kernel has in a hierarchy's root (those
// New reads). It returns the layout detected on it and the tree's root.
func fakeTree(t *testing.T, name string) (*Layout, string) {
	return fakeTreeKernel(t, name, "6.18.0")
}

// fakeTreeKernel is fakeTree with the kernel release the tree reports.
func fakeTreeKernel(t *testing.T, name, release string) (*Layout, string) {
	t.Helper()
	root := t.TempDir()
	mustWrite(t, filepath.Join(root, "proc/sys/kernel/osrelease"), release+"\n")
	mustWrite(t, filepath.Join(root, "proc/self/mountinfo"), readTestdata(t, "mountinfo."+name))
	mustWrite(t, filepath.Join(root, "proc/self/cgroup"), readTestdata(t, "cgroup."+name))
	mounts, err := parseMountinfo([]byte(readTestdata(t, "mountinfo."+name)))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mounts {
		dir := filepath.Join(root, m.point)
		switch {
		case m.fstype == "cgroup2":
			mustWrite(t, dir+"/cgroup.controllers", rootControllers[name]+"\n")
			mustWrite(t, dir+"/cgroup.subtree_control", "")
			mustWrite(t, dir+"/cpuset.cpus.effective", "0-3\n")
			mustWrite(t, dir+"/cpuset.mems.effective", "0\n")
		case strings.Contains(","+m.super+",", ",cpuset,"):
			mustWrite(t, dir+"/cpuset.cpus", "0-3\n")
			mustWrite(t, dir+"/cpuset.mems", "0\n")
		default:
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	l, err := DetectLayout(root)
	if err != nil {
		t.Fatal(err)
	}
	return l, root
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// contents returns a fake cgroup file's contents.
func contents(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shown renders writes as shell lines with the fake root cut off, so
// expectations read like the real machine's.
func shown(root string, ws []Write) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		w.File = strings.TrimPrefix(w.File, root)
		out[i] = w.String()
	}
	return out
}

// dirsUnder lists the directories of a fake tree, to prove Destroy left it
// as it found it.
func dirsUnder(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(filepath.Join(root, "sys/fs/cgroup"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			out = append(out, strings.TrimPrefix(p, root))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func ptr[T any](v T) *T { return &v }
