package imagefs

import (
	"io/fs"
	"os"
	"path"
	"strings"
)

// LayersFS reads files of an image through its unpacked layers (top
// first) as the container will see them, without mounting anything: a
// name comes from the topmost layer that has it, and a whiteout or an
// opaque directory above hides it below. run uses it to read the image's
// /etc/passwd and /etc/group for -u NAME before the container exists. Only
// files can be opened (not directories); each layer is read through an
// os.Root, so a symlink cannot lead out of it.
func LayersFS(lower []string) fs.FS { return layersFS(lower) }

type layersFS []string

func (l layersFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	i := find(l, name)
	if i < 0 {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	r, err := os.OpenRoot(l[i])
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.Open(name)
}

// find returns the index of the topmost layer that shows name (a clean
// relative path), or -1 when no layer does.
func find(layers []string, name string) int {
	parts := strings.Split(name, "/")
	for i, layer := range layers {
		found, stop := lookIn(layer, parts)
		if found {
			return i
		}
		if stop {
			break
		}
	}
	return -1
}

// lookIn looks parts up in one layer. stop reports that the layers below
// cannot show it: this layer deletes it (a whiteout of it or of a
// directory above it) or hides them (an opaque directory above it).
func lookIn(layer string, parts []string) (found, stop bool) {
	for i := 1; i < len(parts); i++ {
		q := layer + "/" + path.Join(parts[:i]...)
		st, err := lstat(q)
		if err != nil {
			return false, stop
		}
		if isWhiteout(st) || !isDir(st) {
			return false, true
		}
		if opaque(q) {
			stop = true
		}
	}
	st, err := lstat(layer + "/" + path.Join(parts...))
	if err != nil {
		return false, stop
	}
	if isWhiteout(st) {
		return false, true
	}
	return true, true
}
