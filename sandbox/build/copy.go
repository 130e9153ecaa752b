package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

// source is one file a COPY or ADD reads: where it is, and where it goes
// relative to the destination.
type source struct {
	abs string // in the context or the --from view
	rel string // below the destination ("" is the destination itself)
	fi  fs.FileInfo
	tar bool // ADD: a local tar to unpack
	top bool // named by the instruction (not found below a directory)
}

// owner is --chown's uid and gid, or keep for the source's own.
type owner struct {
	uid, gid int
	keep     bool
}

// copy runs COPY and ADD: the files are laid out in a staging directory
// as they go into the image (with the image's directories above them
// copied up, as overlayfs would), and that directory becomes the layer.
func (b *builder) copy(s *stage, st *Stage, in Instruction) error {
	lx := b.lexer(s)
	bad := func(en, ko string, a ...any) error { return b.errf(in.Line, in.Cmd+": "+en, in.Cmd+": "+ko, a...) }
	args, err := b.list(lx, in)
	if err != nil {
		return bad("%v", "%v", err)
	}
	if len(args) < 2 {
		return bad("needs at least one source and a destination", "원본과 대상이 하나 이상 필요합니다")
	}
	srcs, dest := args[:len(args)-1], args[len(args)-1]
	// Where the sources are read from: the context, or another stage's or
	// image's files.
	root, done, fromName, err := b.copyRoot(s, st, in)
	if err != nil {
		return err
	}
	defer done()
	var list []source
	for _, src := range srcs {
		if in.Cmd == "ADD" && isURL(src) {
			return bad("%s is a URL: stepbox does not download while it builds; fetch it beside the Dockerfile, or in a RUN step with --network host",
				"%s는 URL입니다. stepbox는 빌드 중에 내려받지 않습니다. Dockerfile 옆에 받아 두거나 --network host로 RUN에서 받으세요", src)
		}
		got, err := b.sources(root, src, fromName == "")
		if err != nil {
			return bad("%v", "%v", err)
		}
		for i := range got {
			got[i].tar = in.Cmd == "ADD" && got[i].fi.Mode().IsRegular() && isTar(got[i].abs)
		}
		list = append(list, got...)
	}
	tops := 0
	for _, src := range list {
		if src.top {
			tops++
		}
	}
	multi := tops > 1 || len(srcs) > 1
	if !path.IsAbs(dest) {
		wd := s.cfg.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest) + map[bool]string{true: "/"}[strings.HasSuffix(dest, "/") || dest == "." || dest == ""]
	}
	destDir := strings.HasSuffix(dest, "/")
	if multi && !destDir {
		return bad("with more than one source the destination must be a directory ending in /: %s/", "원본이 여럿이면 대상은 /로 끝나는 디렉터리여야 합니다: %s/", dest)
	}
	o, err := b.chown(s, in)
	if err != nil {
		return bad("%v", "%v", err)
	}
	if fromName != "" && o == (owner{}) {
		o.keep = true
	}
	if fromName == "" && o == (owner{}) {
		o = owner{}
	}
	mode := -1
	if m, ok := in.Flag("chmod"); ok {
		v, err := strconv.ParseUint(m, 8, 32)
		if err != nil || v > 0o7777 {
			return bad("--chmod=%s: give an octal mode such as 0755", "--chmod=%s: 0755처럼 8진수로 쓰세요", m)
		}
		mode = int(v)
	}
	// The cache key: every name, mode, owner and byte copied.
	sum, err := contentSum(list, o, mode)
	if err != nil {
		return bad("%v", "%v", err)
	}
	createdBy := in.Cmd
	for _, f := range in.Flags {
		createdBy += " " + f
	}
	createdBy += " " + strings.Join(srcs, " ") + " " + dest
	k := key(s.img, createdBy, sum)
	if b.cachedStep(s, k) {
		return nil
	}
	start := time.Now()
	stage, err := b.stageDir()
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	treeOut := "" // where the directory being copied goes
	for _, src := range list {
		if !src.top {
			// Below a directory named by the instruction, in walk order
			// (parents first), .dockerignore already applied.
			if err := copyOne(src.abs, filepath.Join(treeOut, src.rel), src.fi, o, mode); err != nil {
				return bad("%v", "%v", err)
			}
			continue
		}
		target := dest
		intoDir := destDir || multi || src.fi.IsDir() || src.tar
		if !intoDir {
			if isDir, err := b.isDirIn(s, dest); err != nil {
				return bad("%v", "%v", err)
			} else if isDir {
				intoDir = true
			}
		}
		if intoDir {
			target = path.Join(dest, src.rel)
		}
		dir, base := path.Dir(path.Clean(target)), path.Base(path.Clean(target))
		if src.fi.IsDir() || src.tar {
			dir, base = path.Clean(dest), ""
		}
		resolved, _, err := b.layDirs(s, stage, dir, &o)
		if err != nil {
			return bad("%v", "%v", err)
		}
		out := filepath.Join(stage, resolved, base)
		switch {
		case src.tar:
			err = b.untar(src.abs, out)
		case src.fi.IsDir():
			treeOut = out
		default:
			err = copyOne(src.abs, out, src.fi, o, mode)
		}
		if err != nil {
			return bad("%v", "%v", err)
		}
	}
	img, err := b.o.Store.AddStep(imageID(s.img), image.StepOptions{Config: s.cfg, CreatedBy: createdBy, Upper: stage, Key: k})
	if err != nil {
		return bad("%v", "%v", err)
	}
	s.img = img
	b.say(" ---> %s (%s)", image.ShortID(img.ID), since(start))
	return nil
}

func isURL(s string) bool {
	for _, p := range []string{"http://", "https://", "git@", "git://", "ssh://"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// copyRoot is where COPY reads from: the context, or with --from a stage
// built before or an image of the store, read through its merged view.
func (b *builder) copyRoot(s *stage, st *Stage, in Instruction) (string, func(), string, error) {
	from, ok := in.Flag("from")
	if !ok {
		return b.o.Context, func() {}, "", nil
	}
	var img *image.Image
	if j, found := b.stageByName(from, st.Index); found {
		img = b.stages[j]
	} else {
		var err error
		if img, err = b.baseImage(from); err != nil {
			return "", nil, "", b.errf(in.Line, "COPY --from=%s: %v", "COPY --from=%s: %v", from, err)
		}
	}
	if img == nil {
		return "", nil, "", b.errf(in.Line, "COPY --from=%s: the stage has no files", "COPY --from=%s: 그 스테이지에는 파일이 없습니다", from)
	}
	v, done, err := b.view(img)
	if err != nil {
		return "", nil, "", b.errf(in.Line, "COPY --from=%s: %v", "COPY --from=%s: %v", from, err)
	}
	return v, done, from, nil
}

// sources finds src (a path or a glob) under root, refusing any way out
// of it; ctx applies .dockerignore.
func (b *builder) sources(root, src string, ctx bool) ([]source, error) {
	rel := path.Clean(strings.TrimPrefix(path.Clean("/"+strings.TrimPrefix(src, "/")), "/"))
	if c := path.Clean(src); c == ".." || strings.HasPrefix(c, "../") || strings.Contains(c, "/../") {
		return nil, fmt.Errorf("%s is outside the build context (forbidden path)", src)
	}
	if rel == "" || rel == "/" {
		rel = "."
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var names []string
	if strings.ContainsAny(rel, "*?[") {
		err := fs.WalkDir(r.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ok, _ := path.Match(rel, p); ok && p != "." {
				names = append(names, p)
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	} else {
		names = []string{rel}
	}
	var out []source
	for _, n := range names {
		if ctx && n != "." && b.ignore.excluded(n) {
			continue
		}
		fi, err := r.Stat(n)
		if err != nil {
			if strings.Contains(err.Error(), "escapes") {
				return nil, fmt.Errorf("%s leads outside the build context (a symlink out of it)", src)
			}
			return nil, fmt.Errorf("%s: not found in the build context", src)
		}
		if fi.IsDir() {
			if err := b.walk(r, root, n, "", ctx, &out); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, source{abs: filepath.Join(root, n), rel: path.Base(n), fi: fi, top: true})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no source files (not found, or all left out by .dockerignore)", src)
	}
	return out, nil
}

// walk adds a directory and everything below it, .dockerignore applied.
func (b *builder) walk(r *os.Root, root, dir, under string, ctx bool, out *[]source) error {
	fi, err := r.Stat(dir)
	if err != nil {
		return err
	}
	*out = append(*out, source{abs: filepath.Join(root, dir), rel: under, fi: fi, top: under == ""})
	ents, err := fs.ReadDir(r.FS(), dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		p := path.Join(dir, e.Name())
		rel := path.Join(under, e.Name())
		info, err := r.Lstat(p)
		if err != nil {
			return err
		}
		if ctx && b.ignore.excluded(p) {
			// A directory left out may still hold a path a ! pattern
			// takes back: look inside, keep only what comes back.
			if info.IsDir() && b.ignore.negates() {
				var inner []source
				if err := b.walk(r, root, p, rel, ctx, &inner); err != nil {
					return err
				}
				if len(inner) > 1 {
					*out = append(*out, inner...)
				}
			}
			continue
		}
		if info.IsDir() {
			if err := b.walk(r, root, p, rel, ctx, out); err != nil {
				return err
			}
			continue
		}
		*out = append(*out, source{abs: filepath.Join(root, p), rel: rel, fi: info})
	}
	return nil
}

// contentSum hashes what a COPY copies: names, kinds, modes, owners,
// link targets and contents (not times: a touched file is the same).
func contentSum(list []source, o owner, mode int) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%d:%d:%v:%o\n", o.uid, o.gid, o.keep, mode)
	for _, s := range list {
		var uid, gid uint32
		if st, ok := s.fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = st.Uid, st.Gid
		}
		fmt.Fprintf(h, "%q %v %d:%d %d\n", s.rel, s.fi.Mode(), uid, gid, s.fi.Size())
		switch {
		case s.fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(s.abs)
			fmt.Fprintf(h, "-> %s\n", l)
		case s.fi.Mode().IsRegular():
			f, err := os.Open(s.abs)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// chown reads --chown=USER[:GROUP] through the image's /etc/passwd and
// /etc/group (names) or as numbers.
func (b *builder) chown(s *stage, in Instruction) (owner, error) {
	v, ok := in.Flag("chown")
	if !ok {
		return owner{}, nil
	}
	v, err := b.lexer(s).word(v)
	if err != nil {
		return owner{}, err
	}
	l, err := b.lowers(s.img)
	if err != nil {
		return owner{}, err
	}
	u, _, err := sandbox.ResolveUserFS(imagefs.LayersFS(l), v)
	if err != nil {
		return owner{}, fmt.Errorf("--chown=%s: %w", v, err)
	}
	gid := u.GID
	if !strings.Contains(v, ":") {
		// docker: --chown=USER gives the group of the same id (not the
		// user's primary group) when no group is named… unless USER is a
		// name, when it is the user's group.
		if _, err := strconv.Atoi(v); err == nil {
			gid = u.UID
		}
	}
	return owner{uid: int(u.UID), gid: int(gid)}, nil
}

// isDirIn says whether p is a directory in the stage's image.
func (b *builder) isDirIn(s *stage, p string) (bool, error) {
	v, done, err := b.view(s.img)
	if err != nil {
		return false, err
	}
	defer done()
	r, err := resolveIn(v, p)
	if err != nil {
		return false, nil
	}
	fi, err := os.Stat(filepath.Join(v, r))
	return err == nil && fi.IsDir(), nil
}

// stageDir is an empty directory to lay a step's files out in.
func (b *builder) stageDir() (string, error) {
	d, err := os.MkdirTemp(b.work, "step-")
	if err != nil {
		return "", err
	}
	return d, os.Chmod(d, 0o755)
}

// layDirs makes dir (absolute in the image) in stage, symlinks in the
// image followed inside it: each directory the image has is copied up
// (its mode, owner and times), each it lacks is made 0755 (owned by o
// when given). It returns the path with links resolved, and whether any
// directory was missing.
func (b *builder) layDirs(s *stage, stage, dir string, o *owner) (string, bool, error) {
	v, done, err := b.view(s.img)
	if err != nil {
		return "", false, err
	}
	defer done()
	resolved, err := resolveIn(v, dir)
	if err != nil {
		return "", false, err
	}
	made := false
	cur := ""
	for _, part := range strings.Split(strings.Trim(resolved, "/"), "/") {
		if part == "" {
			continue
		}
		cur = path.Join(cur, part)
		out := filepath.Join(stage, cur)
		if _, err := os.Lstat(out); err == nil {
			continue
		}
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(v, cur), &st); err == nil {
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return "", false, fmt.Errorf("%s is not a directory in the image", "/"+cur)
			}
			if err := os.Mkdir(out, 0o755); err != nil {
				return "", false, err
			}
			if err := copyMeta(out, &st); err != nil {
				return "", false, err
			}
			continue
		}
		made = true
		if err := os.Mkdir(out, 0o755); err != nil {
			return "", false, err
		}
		if err := os.Chmod(out, 0o755); err != nil {
			return "", false, err
		}
		if o != nil && !o.keep && (o.uid != 0 || o.gid != 0) {
			if err := os.Lchown(out, o.uid, o.gid); err != nil {
				return "", false, err
			}
		}
	}
	return resolved, made, nil
}

func copyMeta(p string, st *unix.Stat_t) error {
	if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	if err := os.Chmod(p, fs.FileMode(st.Mode&0o777)|modeBits(st.Mode)); err != nil {
		return err
	}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{st.Atim, st.Mtim}, unix.AT_SYMLINK_NOFOLLOW)
}

func modeBits(m uint32) fs.FileMode {
	var out fs.FileMode
	if m&unix.S_ISUID != 0 {
		out |= fs.ModeSetuid
	}
	if m&unix.S_ISGID != 0 {
		out |= fs.ModeSetgid
	}
	if m&unix.S_ISVTX != 0 {
		out |= fs.ModeSticky
	}
	return out
}

// resolveIn resolves p inside root as the container would, symlinks
// followed (an absolute link from root, never above it); a missing tail
// stays as written.
func resolveIn(root, p string) (string, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := "/"
	links := 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		if part == "" || part == "." {
			continue
		}
		if part == ".." {
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		fi, err := os.Lstat(filepath.Join(root, next))
		if err != nil {
			cur = path.Join(append([]string{next}, parts...)...)
			return path.Clean(cur), nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if links++; links > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", p)
		}
		t, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(t) {
			cur = "/"
		}
		parts = append(strings.Split(strings.Trim(t, "/"), "/"), parts...)
	}
	return cur, nil
}

// copyOne copies a file, a symlink or a special file to out with its
// mode and times, owned by o (root by default).
func copyOne(src, out string, fi fs.FileInfo, o owner, mode int) error {
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		t, err := os.Readlink(src)
		if err != nil {
			return err
		}
		os.RemoveAll(out)
		if err := os.Symlink(t, out); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		in, err := os.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		os.RemoveAll(out)
		f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, in)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case fi.IsDir():
		if err := os.Mkdir(out, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	default:
		return fmt.Errorf("%s: stepbox copies files, directories and symlinks, not %v", src, fi.Mode().Type())
	}
	uid, gid := o.uid, o.gid
	if o.keep && st != nil {
		uid, gid = int(st.Uid), int(st.Gid)
	}
	if err := os.Lchown(out, uid, gid); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		m := fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		if mode >= 0 {
			m = fs.FileMode(mode&0o777) | modeBits(uint32(mode))
		}
		if err := os.Chmod(out, m); err != nil {
			return err
		}
	}
	if st != nil {
		ts := []unix.Timespec{{Sec: st.Atim.Sec, Nsec: st.Atim.Nsec}, {Sec: st.Mtim.Sec, Nsec: st.Mtim.Nsec}}
		return unix.UtimesNanoAt(unix.AT_FDCWD, out, ts, unix.AT_SYMLINK_NOFOLLOW)
	}
	return nil
}

// copyTree copies the contents of directory src into out (made when
// missing), as COPY DIR copies what is in DIR, not DIR itself.
func copyTree(src, out string, o owner, mode int) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		dst := filepath.Join(out, rel)
		if rel == "." {
			if _, err := os.Lstat(dst); err == nil {
				return nil // the destination, there already: keep it as it is
			}
		}
		return copyOne(p, dst, fi, o, mode)
	})
}

// isTar says whether ADD should unpack the file: a tar, plain or
// compressed with gzip, bzip2 or zstd (docker also unpacks xz; stepbox
// copies such a file as it is).
func isTar(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, err := decompressed(f)
	if err != nil {
		return false
	}
	hdr := make([]byte, 512)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return false
	}
	_, err = tar.NewReader(bytes.NewReader(hdr)).Next()
	return err == nil || errors.Is(err, io.ErrUnexpectedEOF)
}

func decompressed(f io.Reader) (io.Reader, error) {
	br := bufio.NewReader(f)
	magic, _ := br.Peek(3)
	if bytes.HasPrefix(magic, []byte("BZh")) {
		return bzip2.NewReader(br), nil
	}
	return br, nil
}

// untar unpacks ADD's tar into dir in the staging directory: through the
// store's extraction (which refuses names out of the root and links
// through symlinks) into a directory of its own, then merged in.
func (b *builder) untar(src, dir string) error {
	tmp, err := os.MkdirTemp(b.work, "add-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := decompressed(f)
	if err != nil {
		return err
	}
	if _, err := image.Extract(r, tmp, image.ExtractOptions{}); err != nil {
		return fmt.Errorf("unpack %s: %w", filepath.Base(src), err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return copyTree(tmp, dir, owner{keep: true}, -1)
}
