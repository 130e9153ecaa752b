// Package image is stepbox's image store: images as the OCI image spec
// describes them (a config, a manifest, layers that are tars of file
// changes), kept content-addressed on disk, each layer unpacked once into a
// directory that overlayfs can stack as a lower layer under a container's
// own writable upper directory.
//
// On disk, under the store's directory (<Lib>/images):
//
//	blobs/sha256/<hex>    manifests, configs and layer tars, named by their SHA-256
//	layers/<chain>/diff   a layer unpacked (overlayfs lowerdir), by chain ID
//	layers/<chain>/layer.json  its diff ID, size and entries
//	images.json           image IDs, their manifests, tags, containers using them
//	containers/<id>/      a container's upper and work directories
//	tmp/                  files being written, renamed into place when whole
//	gc.lock, index.lock   flock(2) locks between stepbox processes
//
// An image's ID is the digest of its config, as docker's is.
//
// What the runtime calls:
//
//   - run IMAGE: PrepareRootfs(image, containerID) gives the lower
//     directories (top first), an empty upper and a work directory, and
//     marks the image in use; mount overlayfs with them; MountPlan (or
//     Get) gives the image's config (Env, Cmd, Entrypoint, WorkingDir,
//     User, …); OverlayData gives the mount data. PrepareRootfsMapped
//     does the same for a user namespace, whose root mounts the overlay
//     with userxattr.
//     RemoveRootfs(containerID), after the unmount, removes the upper
//     directory and releases the image. Use and Release mark and unmark an
//     image in use without directories.
//   - diff: Changes(upper, lower).
//   - commit: Commit(image, upper, NAME[:TAG], options), with ApplyChange
//     for --change.
//   - export: WriteTar(w, mergedDir, TarOptions{}) on the mounted root.
//   - the built-in rootfs: ImportDir(dir, NAME[:TAG], options).
package image

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/internal/flock"
	"github.com/stepbox/stepbox/internal/hint"
)

// Store is an image store in one directory. Its methods may be called
// from several stepbox processes at once: flock(2) locks keep them apart.
type Store struct {
	dir string
}

// Errors a caller can test for with errors.Is.
var (
	ErrNotFound = errors.New("no such image")
	ErrInUse    = errors.New("image is in use")
)

// Open opens (making it when missing) the store in dir.
func Open(dir string) (*Store, error) {
	// Blobs and temporaries are root's alone. The way to the unpacked
	// layers and the containers' upper directories is searchable (0711,
	// not listable): a container whose user namespace mounts its own
	// overlay must reach its lower directories as its mapped root.
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{"", 0o711}, {"blobs", 0o700}, {"blobs/sha256", 0o700}, {"layers", 0o711}, {"containers", 0o711}, {"tmp", 0o700}} {
		p := filepath.Join(dir, d.path)
		err := os.MkdirAll(p, d.mode)
		if err == nil {
			err = os.Chmod(p, d.mode)
		}
		if err != nil {
			return nil, hint.With(fmt.Errorf("open image store: %w", err), "the store lives under --root (or STEPBOX_ROOT, else /var/lib/stepbox): run as root or choose a writable --root")
		}
	}
	s := &Store{dir: dir}
	// Leftovers of a killed stepbox: nobody is writing when both locks
	// can be had exclusively at once (content is written under the gc
	// lock, images.json under the index lock).
	if unlock, err := s.lockNB(gcLock, unix.LOCK_EX); err == nil {
		if unlock2, err := s.lockNB(indexLock, unix.LOCK_EX); err == nil {
			s.clearTmp()
			unlock2()
		}
		unlock()
	}
	return s, nil
}

// Dir is the store's directory.
func (s *Store) Dir() string { return s.dir }

const (
	gcLock    = "gc.lock"    // shared while content is added or read, exclusive to delete it
	indexLock = "index.lock" // exclusive around each read-modify-write of images.json
	indexFile = "images.json"
)

func (s *Store) lock(name string, how int) (func(), error) {
	return flock.File(filepath.Join(s.dir, name), how, 0o600)
}

func (s *Store) lockNB(name string, how int) (func(), error) {
	return s.lock(name, how|unix.LOCK_NB)
}

// clearTmp empties tmp/. The caller holds both locks exclusively.
func (s *Store) clearTmp() {
	ents, _ := os.ReadDir(filepath.Join(s.dir, "tmp"))
	for _, e := range ents {
		os.RemoveAll(filepath.Join(s.dir, "tmp", e.Name()))
	}
}

// index is images.json.
type index struct {
	// Images by ID (the config's digest).
	Images map[digest.Digest]*record `json:"images"`
	// Tags maps "repository:tag" to an image ID.
	Tags map[string]digest.Digest `json:"tags"`
	// Uses maps a container ID to the image it runs on: such an image is
	// not removed.
	Uses map[string]digest.Digest `json:"uses"`
}

type record struct {
	Manifest digest.Digest `json:"manifest"`
	Added    time.Time     `json:"added"`
	// RepoDigests are "repository@sha256:…" names the image was pulled
	// by or pushed to: its manifest's digest in that registry, as
	// docker records them.
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Parent and BuildKey are set on the images a build makes, one per
	// step (build.go): the image the step ran on, and its cache key.
	Parent   digest.Digest `json:"parent,omitempty"`
	BuildKey string        `json:"buildKey,omitempty"`
}

func (s *Store) readIndex() (*index, error) {
	idx := &index{Images: map[digest.Digest]*record{}, Tags: map[string]digest.Digest{}, Uses: map[string]digest.Digest{}}
	b, err := os.ReadFile(filepath.Join(s.dir, indexFile))
	if errors.Is(err, os.ErrNotExist) {
		return idx, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, idx); err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(s.dir, indexFile), err)
	}
	if idx.Images == nil {
		idx.Images = map[digest.Digest]*record{}
	}
	if idx.Tags == nil {
		idx.Tags = map[string]digest.Digest{}
	}
	if idx.Uses == nil {
		idx.Uses = map[string]digest.Digest{}
	}
	return idx, nil
}

// update runs f on images.json under the index lock and writes the result
// atomically when f succeeds.
func (s *Store) update(f func(*index) error) error {
	unlock, err := s.lock(indexLock, unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := f(idx); err != nil {
		return err
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	return s.writeFileAtomic(filepath.Join(s.dir, indexFile), b)
}

// writeFileAtomic writes b to a temporary file, syncs it, and renames it
// over p: a reader sees the old file or the new one, never half of one.
func (s *Store) writeFileAtomic(p string, b []byte) error {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "write-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return err
	}
	return syncDir(filepath.Dir(p))
}

func syncDir(p string) error {
	d, err := os.Open(p)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Blobs.

func (s *Store) blobPath(d digest.Digest) string {
	return filepath.Join(s.dir, "blobs", string(d.Algorithm()), d.Encoded())
}

func (s *Store) hasBlob(d digest.Digest) bool {
	if d.Validate() != nil {
		return false
	}
	_, err := os.Stat(s.blobPath(d))
	return err == nil
}

// blobWriter writes a blob to a temporary file while hashing it; Commit
// checks the digest and renames it into blobs/.
type blobWriter struct {
	s    *Store
	f    *os.File
	h    hash.Hash
	n    int64
	done bool
}

func (s *Store) newBlob() (*blobWriter, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "blob-")
	if err != nil {
		return nil, err
	}
	return &blobWriter{s: s, f: f, h: sha256.New()}, nil
}

func (w *blobWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

func (w *blobWriter) Digest() digest.Digest {
	return digest.NewDigestFromBytes(digest.SHA256, w.h.Sum(nil))
}

// Commit makes the blob visible under its digest, after checking it is
// want (when want is not empty). The data is synced before the rename: a
// crash leaves either no blob or the whole one.
func (w *blobWriter) Commit(want digest.Digest) (digest.Digest, int64, error) {
	defer w.Abort()
	d := w.Digest()
	if want != "" && want != d {
		return "", 0, fmt.Errorf("blob has digest %s, want %s: the file is damaged or not what its manifest says", short(d), short(want))
	}
	if err := w.f.Sync(); err != nil {
		return "", 0, err
	}
	if err := w.f.Chmod(0o600); err != nil {
		return "", 0, err
	}
	if err := w.f.Close(); err != nil {
		return "", 0, err
	}
	if err := os.Rename(w.f.Name(), w.s.blobPath(d)); err != nil {
		return "", 0, err
	}
	w.done = true
	return d, w.n, syncDir(filepath.Dir(w.s.blobPath(d)))
}

// Abort removes an uncommitted blob.
func (w *blobWriter) Abort() {
	if !w.done {
		w.f.Close()
		os.Remove(w.f.Name())
		w.done = true
	}
}

func (s *Store) putBlobBytes(b []byte) (digest.Digest, error) {
	d := digest.FromBytes(b)
	if s.hasBlob(d) {
		return d, nil
	}
	w, err := s.newBlob()
	if err != nil {
		return "", err
	}
	w.Write(b)
	d, _, err = w.Commit(d)
	return d, err
}

// maxMetaBlob bounds a manifest or config read into memory.
const maxMetaBlob = 16 << 20

// readBlob reads a small blob (a manifest or config) and checks its digest.
func (s *Store) readBlob(d digest.Digest) ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(d))
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", short(d), err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxMetaBlob+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetaBlob {
		return nil, fmt.Errorf("blob %s: larger than %d bytes", short(d), maxMetaBlob)
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("blob %s: content does not match its digest", short(d))
	}
	return b, nil
}

// short is a digest as "sha256:0123456789ab".
func short(d digest.Digest) string {
	s := string(d)
	if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
		return s[:i+13]
	}
	return s
}

// ShortID is an image ID as docker prints it: 12 hex digits.
func ShortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		return e[:12]
	}
	return e
}
