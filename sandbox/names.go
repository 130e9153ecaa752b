package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/stepbox/stepbox/internal/flock"
	"github.com/stepbox/stepbox/internal/hint"
)

// A container's directory is named by its id; its name, when it has one,
// is a symbolic link <Run>/names/<name> whose target is the id. symlink(2)
// fails when the name exists, so two stepbox processes can never take one
// name: the kernel decides, with no lock around it.
const namesDir = "names"

// NewContainerID returns a random 64-hex-digit id, as docker's; its first
// twelve digits are the short id that `stepbox ps` shows.
func NewContainerID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ShortID is the first twelve characters of an id, as docker shows them.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Word lists for generated names ("quiet_otter"), made for stepbox.
var (
	nameAdjectives = strings.Fields(`bold brave bright calm clever cosy crisp daring deft eager fair fancy
		fresh frosty gentle golden happy jolly keen lively lucid merry nimble patient proud quick quiet
		rapid serene sharp shy silent steady swift tender tidy vivid warm wise witty`)
	nameNouns = strings.Fields(`acorn badger birch canyon cedar comet coral delta dune ember falcon finch
		fjord gecko glacier harbor heron island lagoon lantern lynx magpie maple meadow nebula orchid otter
		panda pebble pine quartz raven river sparrow tundra valley walrus willow yak zephyr`)
)

// GenerateName returns a random docker-like name, adjective_noun.
func GenerateName() string {
	pick := func(words []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		return words[n.Int64()]
	}
	return pick(nameAdjectives) + "_" + pick(nameNouns)
}

func (p Paths) nameLink(name string) string { return filepath.Join(p.Run, namesDir, name) }

// reserveName takes name for the container id, or says who has it. A link
// whose container is gone (its remover died half-way) is taken back.
func reserveName(p Paths, name, id string) error {
	if name == "" {
		return nil
	}
	if err := ValidateID(name); err != nil {
		return err
	}
	dir := filepath.Join(p.Run, namesDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	link := p.nameLink(name)
	for try := 0; ; try++ {
		err := os.Symlink(id, link)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("reserve name %s: %w", name, err)
		}
		if try > 0 || !takeBackStale(p, name) {
			return hint.With(fmt.Errorf("container name %q: %w", name, ErrNameInUse),
				"choose another --name, or remove the old one with 'stepbox rm "+name+"'")
		}
	}
}

// takeBackStale removes the name's link when its container no longer
// exists. It holds the names directory's lock, so that it can never remove
// a link another process has just made in place of the stale one.
func takeBackStale(p Paths, name string) bool {
	unlock, err := flock.Dir(filepath.Join(p.Run, namesDir))
	if err != nil {
		return false
	}
	defer unlock()
	target, err := os.Readlink(p.nameLink(name))
	if err != nil {
		return errors.Is(err, fs.ErrNotExist) // gone meanwhile: try again
	}
	if validName(target) {
		if _, err := os.Stat(filepath.Join(p.containerDir(target), "state.json")); err == nil {
			return false // in use
		}
	}
	return os.Remove(p.nameLink(name)) == nil
}

// releaseName removes the name's link if it is still id's.
func releaseName(p Paths, name, id string) {
	if name == "" {
		return
	}
	if target, err := os.Readlink(p.nameLink(name)); err == nil && target == id {
		_ = os.Remove(p.nameLink(name))
	}
}

// Resolve finds the id of the container ref names, as docker does: its full
// id, its name, or a prefix of its id that only it has.
func Resolve(p Paths, ref string) (string, error) {
	notFound := func() error {
		return hint.With(fmt.Errorf("%w: %s", ErrNoContainer, ref), "list them with 'stepbox ps -a'")
	}
	if !validName(ref) {
		return "", notFound()
	}
	has := func(id string) bool {
		_, err := os.Stat(filepath.Join(p.containerDir(id), "state.json"))
		return err == nil
	}
	if has(ref) {
		return ref, nil
	}
	if target, err := os.Readlink(p.nameLink(ref)); err == nil && validName(target) && has(target) {
		return target, nil
	}
	ents, err := os.ReadDir(p.Run)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", readErr(p.Run, err)
	}
	var found []string
	for _, e := range ents {
		if e.IsDir() && e.Name() != namesDir && strings.HasPrefix(e.Name(), ref) && has(e.Name()) {
			found = append(found, e.Name())
		}
	}
	switch len(found) {
	case 0:
		return "", notFound()
	case 1:
		return found[0], nil
	}
	slices.Sort(found)
	for i := range found {
		found[i] = ShortID(found[i])
	}
	return "", hint.With(fmt.Errorf("%q is ambiguous: %d containers have ids starting with it (%s)", ref, len(found), strings.Join(found, ", ")),
		"give more of the id, or the container's name")
}

// Find loads the container ref names (Resolve).
func Find(p Paths, ref string) (*Container, error) {
	id, err := Resolve(p, ref)
	if err != nil {
		return nil, err
	}
	return Load(p, id)
}

// ErrNeedsRoot: what was asked for is root's (the state of containers, a
// log, a signal to a container's process).
var ErrNeedsRoot = errors.New("needs root")

// readErr turns a refusal to read stepbox's state into ErrNeedsRoot.
func readErr(path string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return hint.With(fmt.Errorf("read %s: %w", path, ErrNeedsRoot), "run it as root, e.g. with sudo")
	}
	return err
}
