package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stepbox/stepbox/internal/testutil"
)

// pullHelperEnv makes the test binary a stepbox that pulls "STORE REF"
// one layer at a time over a network slowed to 32 MiB/s, printing each
// progress event as "STATUS INDEX BYTES", for the test that kills a pull
// half-way.
const pullHelperEnv = "STEPBOX_IMAGE_TEST_PULL"

func pullHelper(arg string) {
	dir, ref, _ := strings.Cut(arg, " ")
	s, err := Open(dir)
	if err == nil {
		_, err = s.Pull(context.Background(), ref, RemoteOptions{Insecure: true, Jobs: 1, Transport: slowTransport{},
			Progress: func(p LayerProgress) {
				fmt.Printf("%s %d %d\n", strings.ReplaceAll(string(p.Status), " ", "_"), p.Index, p.Bytes)
			}})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

type slowTransport struct{}

func (slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		resp.Body = &slowBody{ReadCloser: resp.Body}
	}
	return resp, err
}

type slowBody struct{ io.ReadCloser }

func (b *slowBody) Read(p []byte) (int, error) {
	if len(p) > 64<<10 {
		p = p[:64<<10]
	}
	n, err := b.ReadCloser.Read(p)
	time.Sleep(time.Duration(n) * time.Second / (32 << 20))
	return n, err
}

// randomLayer is a plain tar of one file of n random bytes.
func randomLayer(t *testing.T, name string, n int) []byte {
	t.Helper()
	body := make([]byte, n)
	rand.Read(body)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(n), ModTime: testTime})
	tw.Write(body)
	tw.Close()
	return buf.Bytes()
}

// A pull killed with SIGKILL while a layer is on its way leaves the store
// consistent: no image, no half blob (the blobs it holds are whole and
// what their names say, the half one in tmp/ is gone at the next open),
// no half-unpacked layer; a second pull finishes and fetches only what the
// first had not kept whole.
func TestPullKilledMidway(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	src := openStore(t)
	const size = 12 << 20
	arch := dockerArchive(t, []string{"big:v1"}, randomLayer(t, "a", size), randomLayer(t, "b", size), randomLayer(t, "c", size))
	if _, err := src.Load(bytes.NewReader(arch), LoadOptions{}); err != nil {
		t.Fatal(err)
	}
	ref := reg.Addr + "/course/big:v1"
	if _, err := src.Push(ctxT(t), "big:v1", ref, insecure); err != nil {
		t.Fatal(err)
	}
	img, _ := src.Get("big:v1")
	for _, at := range []struct {
		layer int
		bytes int64
	}{{0, 4 << 20}, {2, 6 << 20}} {
		t.Run(fmt.Sprintf("layer %d at %d MiB", at.layer, at.bytes>>20), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "images")
			if _, err := Open(dir); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), pullHelperEnv+"="+dir+" "+ref)
			out, _ := cmd.StdoutPipe()
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			killed := false
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) != 3 {
					continue
				}
				i, _ := strconv.Atoi(f[1])
				n, _ := strconv.ParseInt(f[2], 10, 64)
				if f[0] == "Downloading" && i == at.layer && n >= at.bytes {
					cmd.Process.Signal(syscall.SIGKILL)
					killed = true
					break
				}
			}
			io.Copy(io.Discard, out)
			cmd.Wait()
			if !killed {
				t.Fatalf("the pull ended before it could be killed: %s", errb.String())
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) == 0 {
				t.Error("nothing in tmp/ at the kill: the pull was not half-way through a blob")
			}
			s, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if imgs, _ := s.List(); len(imgs) != 0 {
				t.Errorf("the killed pull left %d images", len(imgs))
			}
			if ents, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(ents) != 0 {
				t.Errorf("tmp/ still holds %d entries after open", len(ents))
			}
			var kept []string
			ents, _ := os.ReadDir(filepath.Join(dir, "blobs/sha256"))
			for _, e := range ents {
				b, _ := os.ReadFile(filepath.Join(dir, "blobs/sha256", e.Name()))
				if digestOf(b).Encoded() != e.Name() {
					t.Errorf("blob %s is not whole", e.Name())
				}
				kept = append(kept, "sha256:"+e.Name())
			}
			lents, _ := os.ReadDir(filepath.Join(dir, "layers"))
			for _, e := range lents {
				if _, err := os.Stat(filepath.Join(dir, "layers", e.Name(), "layer.json")); err != nil {
					t.Errorf("layer %s is half unpacked", e.Name())
				}
			}
			t.Logf("killed at layer %d, %d MiB: %d whole blobs kept, %d layers unpacked", at.layer, at.bytes>>20, len(kept), len(lents))
			if got := len(kept); got != at.layer {
				t.Errorf("%d blobs kept, want %d (the layers below the one killed)", got, at.layer)
			}

			mark := len(reg.Requests(t))
			pulled, err := s.Pull(ctxT(t), ref, insecure)
			if err != nil {
				t.Fatal(err)
			}
			if pulled.Image.ID != img.ID {
				t.Errorf("second pull: image %s, want %s", pulled.Image.ID, img.ID)
			}
			for _, g := range blobGets(reg.Requests(t)[mark:]) {
				if slices.Contains(kept, g) {
					t.Errorf("second pull fetched %s again", g[:19])
				}
			}
			if pulled.Fetched != 3-at.layer {
				t.Errorf("second pull fetched %d layers, want %d", pulled.Fetched, 3-at.layer)
			}
		})
	}
}
