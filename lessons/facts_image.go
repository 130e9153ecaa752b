package lessons

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

// The facts the images lesson reads from the store and the host's files,
// in Go (the probes show the same things to the learner): what a layer
// directory holds, inodes, whiteouts, a layer tar's entries, the digests
// of a saved image.

// layerFacts are where the lab's image lives on the host.
type layerFacts struct {
	Image string   // the image's ID
	Name  string   // how the learner would name it
	Dirs  []string // its unpacked layers as the store keeps them, bottom first
	// Lower are the layers its containers mount, top first: the same, or
	// in a user namespace the copies owned by its range.
	Lower []string
}

// imageFacts finds the lab's image and its layers.
func imageFacts(l *Lab) (*layerFacts, error) {
	ref, err := l.Image()
	if err != nil {
		return nil, err
	}
	s, err := l.Store()
	if err != nil {
		return nil, err
	}
	img, err := s.Get(ref)
	if err != nil {
		return nil, err
	}
	f := &layerFacts{Image: string(img.ID), Name: image.ShortID(img.ID)}
	if len(img.Tags) > 0 {
		f.Name = img.Tags[0]
	}
	for _, li := range s.Layers(img) {
		f.Dirs = append(f.Dirs, li.Dir)
	}
	m, err := imagefs.IDMapOf(l.Spec())
	if err != nil {
		return nil, err
	}
	plan, err := s.MountPlan(string(img.ID), m)
	if err != nil {
		return nil, err
	}
	f.Lower = plan.Lower
	return f, nil
}

// topNames lists the names at the top of a directory, sorted, but those
// that ls(1) hides (a leading dot).
func topNames(dir string) []string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// realPath is where p (absolute, in the container) really is inside root,
// its symlinks followed inside it (openat2(2) RESOLVE_IN_ROOT): a
// merged-/usr tree's /bin/stepbox is /usr/bin/stepbox.
func realPath(root, p string) (string, error) {
	dfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(dfd)
	fd, err := unix.Openat2(dfd, strings.TrimPrefix(p, "/"), &unix.OpenHow{
		Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	full, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", err
	}
	rootReal, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(rootReal, full)
	if err != nil || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%s resolves outside %s", p, root)
	}
	return "/" + rel, nil
}

// holding returns the first of layers (top first) that has p.
func holding(layers []string, p string) string {
	for _, d := range layers {
		if _, err := os.Lstat(filepath.Join(d, p)); err == nil {
			return d
		}
	}
	return ""
}

// fileFacts are one file's inode and content checksum.
type fileFacts struct {
	Ino uint64
	Sum string
	OK  bool
}

func factsOf(p string) fileFacts {
	var st unix.Stat_t
	if unix.Lstat(p, &st) != nil {
		return fileFacts{}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return fileFacts{}
	}
	s := sha256.Sum256(b)
	return fileFacts{Ino: st.Ino, Sum: hex.EncodeToString(s[:]), OK: true}
}

func (f fileFacts) String() string {
	if !f.OK {
		return "-"
	}
	return fmt.Sprintf("%d %s…", f.Ino, f.Sum[:12])
}

// isWhiteoutAt reports whether p is overlayfs's whiteout: a character
// device 0/0 (overlayfs.rst, "whiteouts and opaque directories").
func isWhiteoutAt(p string) bool {
	var st unix.Stat_t
	return unix.Lstat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

// upperNames lists what an upper directory holds, relative, sorted, leaving
// out the empty directories the runtime made to mount on.
func upperNames(upper string) []string {
	var out []string
	filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == upper {
			return nil
		}
		rel, _ := filepath.Rel(upper, p)
		if fi.IsDir() {
			if ents, _ := os.ReadDir(p); len(ents) == 0 {
				return nil
			}
			return nil // its files say it
		}
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

// layerEntries lists the entries of a layer blob (a tar, gzip or not).
func layerEntries(blob string) ([]string, error) {
	f, err := os.Open(blob)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := decompress(f)
	if err != nil {
		return nil, err
	}
	var out []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/"))
	}
}

func decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	if b, _ := br.Peek(2); len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

// savedFacts is what the lesson reads back from a `docker save` archive:
// its manifest names the config and the layers; each is checked against
// the digest it is named by, and the layers' uncompressed contents against
// the config's diff IDs.
type savedFacts struct {
	Config      string   // the config's file name
	ConfigSum   string   // its SHA-256
	ConfigOK    bool     // the name and the image ID are that digest
	Layers      []string // the layers' file names
	LayersOK    int      // how many match their digest and their diff ID
	DiffIDs     int      // how many the config lists
	ImageIDSeen string
}

func readSaved(path, imageID string) (*savedFacts, error) {
	files := map[string][]byte{}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				return nil, err
			}
			files[h.Name] = b
		}
	}
	var manifest []struct {
		Config string
		Layers []string
	}
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) == 0 {
		return nil, fmt.Errorf("manifest.json of %s: %v", path, err)
	}
	m := manifest[0]
	cfg := files[m.Config]
	sum := sha256.Sum256(cfg)
	sf := &savedFacts{Config: m.Config, ConfigSum: hex.EncodeToString(sum[:]), Layers: m.Layers, ImageIDSeen: imageID}
	sf.ConfigOK = strings.Contains(m.Config, sf.ConfigSum) && imageID == "sha256:"+sf.ConfigSum
	var config struct {
		RootFS struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(cfg, &config); err != nil {
		return sf, err
	}
	sf.DiffIDs = len(config.RootFS.DiffIDs)
	for i, name := range m.Layers {
		b := files[name]
		s := sha256.Sum256(b)
		named := strings.Contains(name, hex.EncodeToString(s[:]))
		r, err := decompress(strings.NewReader(string(b)))
		if err != nil {
			continue
		}
		h := sha256.New()
		io.Copy(h, r)
		diff := "sha256:" + hex.EncodeToString(h.Sum(nil))
		if named && i < len(config.RootFS.DiffIDs) && config.RootFS.DiffIDs[i] == diff {
			sf.LayersOK++
		}
	}
	return sf, nil
}
