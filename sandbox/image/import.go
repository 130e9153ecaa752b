package image

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/klauspost/compress/gzip"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// ImportOptions describe the image an import or a commit makes.
type ImportOptions struct {
	// Config is the new image's run configuration (Env, Cmd, Entrypoint,
	// WorkingDir, User, …); for a commit it replaces the base image's
	// when not nil.
	Config *ocispec.ImageConfig
	// CreatedBy and Comment go into the image's history for its layer.
	CreatedBy, Comment string
	Author             string
	// Created is when the image was made (now when nil): an import of the
	// same files with the same time and config is the same image.
	Created *time.Time
	// Exclude names paths of the directory ImportDir leaves out
	// (".stepbox-manifest.json", say).
	Exclude []string
}

// tagsOf is the tag list for ref ("" makes an untagged image).
func tagsOf(ref string) ([]string, error) {
	if ref == "" {
		return nil, nil
	}
	r, err := ParseRef(ref)
	if err != nil {
		return nil, err
	}
	return []string{r}, nil
}

// ImportTar makes a one-layer image from a flat filesystem tar (plain,
// gzip or zstd), as docker import does, and tags it ref ("" for none).
func (s *Store) ImportTar(r io.Reader, ref string, o ImportOptions) (*Image, error) {
	tags, err := tagsOf(ref)
	if err != nil {
		return nil, err
	}
	if o.CreatedBy == "" {
		o.CreatedBy = "stepbox import"
	}
	return s.importLayer(r, tags, o)
}

// ImportDir makes a one-layer image of the directory dir (the built-in root
// filesystem, say): the course's "an image is a directory of files,
// written out as a tar".
func (s *Store) ImportDir(dir, ref string, o ImportOptions) (*Image, error) {
	tags, err := tagsOf(ref)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("import %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("import %s: not a directory", dir)
	}
	if o.CreatedBy == "" {
		o.CreatedBy = "stepbox import " + dir
	}
	return s.importLayer(compressedTar(dir, TarOptions{Exclude: o.Exclude}), tags, o)
}

// compressedTar streams the gzipped tar of dir.
func compressedTar(dir string, o TarOptions) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		zw, _ := gzip.NewWriterLevel(pw, gzip.BestSpeed)
		err := WriteTar(zw, dir, o)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	return pr
}

func (s *Store) importLayer(r io.Reader, tags []string, o ImportOptions) (*Image, error) {
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if rc, ok := r.(io.ReadCloser); ok {
		defer rc.Close()
	}
	out, err := s.addLayer(r, layerIn{what: "of the imported tar"})
	if err != nil {
		return nil, err
	}
	cfg := newConfig(nil, out.meta.DiffID, ocispec.History{Created: o.Created, CreatedBy: o.CreatedBy, Comment: o.Comment, Author: o.Author})
	if o.Config != nil {
		cfg.Config = *o.Config
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	return s.addImage(raw, []ocispec.Descriptor{out.desc}, tags)
}

// CommitOptions describe a commit of a container's upper directory.
type CommitOptions struct {
	ImportOptions
	// IDMap is the container's user namespace shift, taken off the owners
	// of its files.
	IDMap IDMap
}

// Commit makes a new image of base with one more layer: the changes in a
// container's overlayfs upper directory (whiteouts and opaque directories
// written as OCI whiteouts), tagged ref ("" for none). Nothing in upper is
// changed; the container should be stopped or paused.
func (s *Store) Commit(base, upper, ref string, o CommitOptions) (*Image, error) {
	tags, err := tagsOf(ref)
	if err != nil {
		return nil, err
	}
	unlock, err := s.lock(gcLock, unix.LOCK_SH)
	if err != nil {
		return nil, err
	}
	defer unlock()
	b, err := s.Get(base)
	if err != nil {
		return nil, err
	}
	lowers, err := s.ensureLayers(b, IDMap{})
	if err != nil {
		return nil, err
	}
	var parent digest.Digest
	if ch := chainIDs(b.Config.RootFS.DiffIDs); len(ch) > 0 {
		parent = ch[len(ch)-1]
	}
	src := compressedTar(upper, TarOptions{Overlay: true, UIDOffset: o.IDMap.UID, GIDOffset: o.IDMap.GID, Exclude: o.Exclude})
	defer src.Close()
	out, err := s.addLayer(src, layerIn{parent: parent, lowers: reversed(lowers), what: "of the container's changes"})
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", upper, err)
	}
	if o.CreatedBy == "" {
		o.CreatedBy = "stepbox commit"
	}
	now := time.Now().UTC()
	cfg := newConfig(&b.Config, out.meta.DiffID, ocispec.History{Created: &now, CreatedBy: o.CreatedBy, Comment: o.Comment, Author: o.Author})
	if o.Config != nil {
		cfg.Config = *o.Config
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	layers := append(append([]ocispec.Descriptor(nil), b.Manifest.Layers...), out.desc)
	return s.addImage(raw, layers, tags)
}
