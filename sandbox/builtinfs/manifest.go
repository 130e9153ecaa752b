package builtinfs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// ManifestName is the manifest's file name at the top of a built rootfs. It
// lives inside the directory so that the atomic rename that publishes a
// build publishes its manifest with it.
const ManifestName = ".stepbox-manifest.json"

// manifestFormat is the version of the manifest's layout.
const manifestFormat = 1

// Manifest records what a built root filesystem holds and where each file
// came from.
type Manifest struct {
	Format int       `json:"format"`
	Source Source    `json:"source"` // busybox-static or host-tools
	Built  time.Time `json:"built"`
	// Stepbox identifies the binary copied in as /bin/stepbox, so a newer
	// stepbox makes Default rebuild.
	Stepbox *Stamp `json:"stepbox,omitempty"`
	// Count is the number of entries of Files.
	Count int `json:"count"`
	// Files lists every directory, file and link made, sorted by path. It
	// comes last in the JSON, so the header can be read without it.
	Files []File `json:"files"`
}

// Stamp identifies a host file cheaply (no checksum to compute).
type Stamp struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mtime"`
}

// File is one entry of a built root filesystem.
type File struct {
	Path   string `json:"path"`             // inside the rootfs, "/bin/busybox"
	Type   string `json:"type"`             // "dir", "file" or "symlink"
	Mode   string `json:"mode"`             // permission bits in octal, "0755", "1777"
	Size   int64  `json:"size,omitempty"`   // files
	SHA256 string `json:"sha256,omitempty"` // files
	Link   string `json:"link,omitempty"`   // symlinks: the target as written
	From   string `json:"from"`             // the host file copied, or what made it: "stepbox", "generated", "busybox applet", "layout"
}

func modeString(m fs.FileMode) string {
	bits := uint32(m.Perm())
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	return fmt.Sprintf("%04o", bits)
}

// ReadManifest reads the manifest of the rootfs at dir.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(dir + "/" + ManifestName)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read manifest %s/%s: %w", dir, ManifestName, err)
	}
	if err := m.check(); err != nil {
		return nil, fmt.Errorf("manifest %s/%s: %w", dir, ManifestName, err)
	}
	if m.Count != len(m.Files) {
		return nil, fmt.Errorf("manifest %s/%s: %d files listed, %d announced", dir, ManifestName, len(m.Files), m.Count)
	}
	return &m, nil
}

func (m *Manifest) check() error {
	if m.Format != manifestFormat {
		return fmt.Errorf("format %d, want %d", m.Format, manifestFormat)
	}
	if m.Source != SourceBusybox && m.Source != SourceHostTools {
		return fmt.Errorf("unknown source %q", m.Source)
	}
	return nil
}

// readManifestHeader reads the manifest up to its file list, which it
// leaves out: what Default needs on every container start, at a fraction of
// the cost of decoding hundreds of entries.
func readManifestHeader(dir string) (*Manifest, error) {
	f, err := os.Open(dir + "/" + ManifestName)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("manifest %s/%s: not a JSON object", dir, ManifestName)
	}
	var m Manifest
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("manifest %s/%s: %w", dir, ManifestName, err)
		}
		var dst any
		switch t {
		case "format":
			dst = &m.Format
		case "source":
			dst = &m.Source
		case "built":
			dst = &m.Built
		case "stepbox":
			dst = &m.Stepbox
		case "count":
			dst = &m.Count
		case "files":
			return &m, m.check()
		default:
			dst = new(json.RawMessage)
		}
		if err := dec.Decode(dst); err != nil {
			return nil, fmt.Errorf("manifest %s/%s: %v: %w", dir, ManifestName, t, err)
		}
	}
	return nil, fmt.Errorf("manifest %s/%s: no file list", dir, ManifestName)
}

// Verify checks the rootfs at dir against its manifest: every entry is there,
// of its kind and mode, every file has its size and SHA-256, every link its
// target. The manifest is read as untrusted (a container may have written
// the rootfs): entries are looked up through os.Root, so no path or link in
// it leads outside dir. Files added since the build are not reported.
func Verify(dir string) (*Manifest, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return m, err
	}
	defer root.Close()
	var problems []error
	for _, f := range m.Files {
		if err := verifyFile(root, f); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		return m, fmt.Errorf("verify %s: %d of %d entries differ from the manifest:\n%w", dir, len(problems), len(m.Files), errors.Join(problems...))
	}
	return m, nil
}

func verifyFile(root *os.Root, f File) error {
	name := strings.TrimPrefix(f.Path, "/")
	if name == "" {
		name = "."
	}
	st, err := root.Lstat(name)
	if err != nil {
		return fmt.Errorf("%s: %w", f.Path, errors.Unwrap(err))
	}
	kind := map[fs.FileMode]string{0: "file", fs.ModeDir: "dir", fs.ModeSymlink: "symlink"}[st.Mode().Type()]
	if kind != f.Type {
		return fmt.Errorf("%s: is a %s, the manifest says %s", f.Path, kindOr(kind, st.Mode()), f.Type)
	}
	if f.Type != "symlink" && modeString(st.Mode()) != f.Mode {
		return fmt.Errorf("%s: mode %s, the manifest says %s", f.Path, modeString(st.Mode()), f.Mode)
	}
	switch f.Type {
	case "symlink":
		target, err := root.Readlink(name)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if target != f.Link {
			return fmt.Errorf("%s: links to %s, the manifest says %s", f.Path, target, f.Link)
		}
	case "file":
		if st.Size() != f.Size {
			return fmt.Errorf("%s: %d bytes, the manifest says %d", f.Path, st.Size(), f.Size)
		}
		sum, err := hashFile(root, name)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Path, err)
		}
		if sum != f.SHA256 {
			return fmt.Errorf("%s: SHA-256 %s, the manifest says %s", f.Path, sum, f.SHA256)
		}
	}
	return nil
}

func kindOr(kind string, m fs.FileMode) string {
	if kind != "" {
		return kind
	}
	return m.Type().String()
}

func hashFile(root *os.Root, name string) (string, error) {
	f, err := root.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// encode renders the manifest with one file per line, so it diffs and greps
// well, and with the file list last (see readManifestHeader).
func (m *Manifest) encode() ([]byte, error) {
	var b bytes.Buffer
	head, err := json.Marshal(struct {
		Format  int       `json:"format"`
		Source  Source    `json:"source"`
		Built   time.Time `json:"built"`
		Stepbox *Stamp    `json:"stepbox,omitempty"`
		Count   int       `json:"count"`
	}{m.Format, m.Source, m.Built, m.Stepbox, m.Count})
	if err != nil {
		return nil, err
	}
	b.Write(head[:len(head)-1])
	b.WriteString(",\n\"files\": [")
	for i, f := range m.Files {
		line, err := json.Marshal(f)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		b.Write(line)
	}
	b.WriteString("\n]}\n")
	return b.Bytes(), nil
}
