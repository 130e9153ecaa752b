package image

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"
)

// IDMap shifts the owners of unpacked files for a container in a user
// namespace: uid u in the image is UID+u on the host.
type IDMap struct{ UID, GID uint32 }

// layerMeta is layers/<chain>/layer.json.
type layerMeta struct {
	DiffID  digest.Digest `json:"diffID"`
	ChainID digest.Digest `json:"chainID"`
	Size    int64         `json:"size"`
	Entries int           `json:"entries"`
}

// chainID is the OCI chain ID of a layer on top of parent (config.md,
// "Layer ChainID"): the diff ID itself for the bottom layer, else
// SHA256(parent + " " + diffID). A layer unpacked for overlayfs depends on
// what is below it (an implicit directory takes its attributes from
// there), so unpacked layers are keyed by chain, as docker's are.
func chainID(parent, diff digest.Digest) digest.Digest {
	if parent == "" {
		return diff
	}
	return digest.FromString(string(parent) + " " + string(diff))
}

func chainIDs(diffs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffs))
	var p digest.Digest
	for i, d := range diffs {
		p = chainID(p, d)
		out[i] = p
	}
	return out
}

func (s *Store) layerDir(chain digest.Digest, m IDMap) string {
	name := chain.Encoded()
	if m != (IDMap{}) {
		name += fmt.Sprintf("-%d-%d", m.UID, m.GID)
	}
	return filepath.Join(s.dir, "layers", name)
}

// diffDir is the unpacked layer, the directory overlayfs stacks.
func (s *Store) diffDir(chain digest.Digest, m IDMap) string {
	return filepath.Join(s.layerDir(chain, m), "diff")
}

func (s *Store) readLayerMeta(chain digest.Digest, m IDMap) (*layerMeta, error) {
	b, err := os.ReadFile(filepath.Join(s.layerDir(chain, m), "layer.json"))
	if err != nil {
		return nil, err
	}
	var lm layerMeta
	if err := json.Unmarshal(b, &lm); err != nil {
		return nil, err
	}
	return &lm, nil
}

func (s *Store) hasLayer(chain digest.Digest, m IDMap) bool {
	_, err := s.readLayerMeta(chain, m)
	return err == nil
}

// layerMediaType is the OCI media type of a layer blob compressed as c.
func layerMediaType(c Compression) string {
	switch c {
	case Gzip:
		return ocispec.MediaTypeImageLayerGzip
	case Zstd:
		return ocispec.MediaTypeImageLayerZstd
	}
	return ocispec.MediaTypeImageLayer
}

// layerIn says what is known of a layer before reading it.
type layerIn struct {
	parent   digest.Digest // chain ID of the layer below, "" for the bottom one
	lowers   []string      // unpacked layers below, top first
	wantDiff digest.Digest // from the image config, when known
	wantBlob digest.Digest // from a manifest, when known
	what     string        // how errors name the layer
}

// layerOut is a layer once stored.
type layerOut struct {
	desc ocispec.Descriptor
	meta layerMeta
}

// addLayer reads a layer blob (a tar, plain, gzip or zstd) from r, stores
// it as a blob and unpacks it (unless that chain is unpacked already), in
// one pass over r.
func (s *Store) addLayer(r io.Reader, in layerIn) (layerOut, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	comp, err := detect(br)
	if err != nil {
		return layerOut{}, fmt.Errorf("layer %s: %w", in.what, err)
	}
	bw, err := s.newBlob()
	if err != nil {
		return layerOut{}, err
	}
	defer bw.Abort()
	tee := io.TeeReader(br, bw)
	var meta *layerMeta
	if in.wantDiff != "" && s.hasLayer(chainID(in.parent, in.wantDiff), IDMap{}) {
		if _, err := io.Copy(io.Discard, tee); err != nil {
			return layerOut{}, fmt.Errorf("read layer %s: %w", in.what, err)
		}
		meta, err = s.readLayerMeta(chainID(in.parent, in.wantDiff), IDMap{})
	} else {
		meta, err = s.unpack(tee, in, IDMap{})
		if err == nil {
			// The tar's end may leave compressed bytes unread.
			_, err = io.Copy(io.Discard, tee)
		}
	}
	if err != nil {
		return layerOut{}, err
	}
	d, n, err := bw.Commit(in.wantBlob)
	if err != nil {
		return layerOut{}, fmt.Errorf("layer %s: %w", in.what, err)
	}
	return layerOut{
		desc: ocispec.Descriptor{MediaType: layerMediaType(comp), Digest: d, Size: n},
		meta: *meta,
	}, nil
}

// unpack extracts the layer tar read from r into layers/<chain> (under
// tmp/ first, renamed into place when whole).
func (s *Store) unpack(r io.Reader, in layerIn, m IDMap) (*layerMeta, error) {
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, "tmp"), "layer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o711); err != nil {
		return nil, err
	}
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return nil, err
	}
	res, err := Extract(r, diff, ExtractOptions{UIDOffset: m.UID, GIDOffset: m.GID, Lowers: in.lowers})
	if err != nil {
		return nil, fmt.Errorf("extract layer %s: %w", in.what, err)
	}
	if in.wantDiff != "" && res.DiffID != in.wantDiff {
		return nil, fmt.Errorf("layer %s: its tar has diff ID %s but the image config says %s", in.what, short(res.DiffID), short(in.wantDiff))
	}
	chain := chainID(in.parent, res.DiffID)
	meta := &layerMeta{DiffID: res.DiffID, ChainID: chain, Size: res.Size, Entries: res.Entries}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "layer.json"), b, 0o600); err != nil {
		return nil, err
	}
	// One syncfs for the whole layer rather than an fsync per file: the
	// rename below must not land before the files it publishes.
	if fd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
		unix.Syncfs(fd)
		unix.Close(fd)
	}
	dst := s.layerDir(chain, m)
	if err := os.Rename(tmp, dst); err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			// Another stepbox unpacked the same layer meanwhile.
			return meta, nil
		}
		return nil, err
	}
	return meta, nil
}

// ensureLayers makes sure every layer of the image is unpacked for the ID
// map m (unpacking again from the blobs what is missing) and returns the
// diff directories, bottom first.
func (s *Store) ensureLayers(img *Image, m IDMap) ([]string, error) {
	diffs := img.Config.RootFS.DiffIDs
	chains := chainIDs(diffs)
	var dirs []string
	for i, c := range chains {
		if !s.hasLayer(c, m) {
			f, err := os.Open(s.blobPath(img.Manifest.Layers[i].Digest))
			if err != nil {
				return nil, fmt.Errorf("layer %s of %s: %w", short(diffs[i]), ShortID(img.ID), err)
			}
			var parent digest.Digest
			if i > 0 {
				parent = chains[i-1]
			}
			_, err = s.unpack(f, layerIn{parent: parent, lowers: reversed(dirs), wantDiff: diffs[i], what: short(diffs[i])}, m)
			f.Close()
			if err != nil {
				return nil, err
			}
		}
		dirs = append(dirs, s.diffDir(c, m))
	}
	return dirs, nil
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}
