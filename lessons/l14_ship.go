package lessons

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox/image"
)

func init() { register(lessonShip) }

// Lesson 14: build → ship → run. The image is built on the host with the
// stepbox command line (its layers land in the lab's image store), shipped
// through a registry the lesson starts on 127.0.0.1 (or, where none is
// installed, as a `save` archive), removed, brought back, and run. The
// checks read the store, the registry's storage and exit codes.

// The lesson's probes. {lab} is the lesson's directory, {ctx} the build's
// context, {layer} the COPY layer unpacked in the store, {blobs} the
// registry's blob directory (or the lab's directory without a registry),
// {ship} the image's local name, {pulled} what the last step runs,
// {stepbox} the command line with the lab's --root.
const (
	shipLsLab      = "ls {lab}"
	shipBlobs      = "cd {blobs} && ls -d */*"
	shipImages     = "{stepbox} images"
	shipRun        = "{stepbox} run --rm {pulled}"
	shipHistory    = "{stepbox} history {ship}"
	shipDockerfile = "cat {ctx}/Dockerfile"
	shipLsLayer    = "ls {layer}"
	shipSecondLog  = "cat {lab}/second-build.log"
	shipGreeting   = "hello from stepbox"
)

// Facts the steps note and the checks read.
const (
	nShipMade     = "ship.made"     // image ID, layers of the base, of the image
	nShipSteps    = "ship.steps"    // the history's two newest steps
	nShipUnpacked = "ship.unpacked" // the COPY layer is unpacked in the store
	nShipAgain    = "ship.again"    // the second build's image ID
	nShipCounts   = "ship.counts"   // images and blobs before → after the second build
	nShipTop      = "ship.top"      // what the image's own layer holds
	nShipReg      = "ship.registry" // the registry's address, or "-"
	nShipPing     = "ship.ping"     // GET /v2/'s status
	nShipBlobs0   = "ship.blobs0"   // blobs in the storage before the push
	nShipPushed   = "ship.pushed"   // error or "ok"
	nShipWant     = "ship.want"     // digests the store has: manifest? config, layers
	nShipHave     = "ship.have"     // how many of those the registry holds, good
	nShipLink     = "ship.link"     // the tag's manifest digest in the registry
	nShipManifest = "ship.manifest" // the store's manifest digest
	nShipGone     = "ship.gone"     // the image is gone from the store after rmi
	nShipBack     = "ship.back"     // the ID that came back
	nShipFetched  = "ship.fetched"  // layers fetched, of how many
)

// shipState is the lesson's own state beside the lab's.
type shipState struct {
	dir    string // the lesson's directory: registry config and storage, archive
	reg    *labRegistry
	local  string // the image's local name
	id     string // its ID
	remote string // its name in the registry
	secure bool   // the demo: push and pull without --tls-verify=false
}

var ships = struct {
	sync.Mutex
	m map[*Lab]*shipState
}{m: map[*Lab]*shipState{}}

// shipOf is the lesson's state for l, made with its directory on first use.
func shipOf(l *Lab) (*shipState, error) {
	ships.Lock()
	defer ships.Unlock()
	if s := ships.m[l]; s != nil {
		return s, nil
	}
	if err := os.MkdirAll(l.paths.Run, 0o711); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(l.paths.Run, "lesson-ship-")
	if err != nil {
		return nil, err
	}
	s := &shipState{dir: dir, local: "stepbox-lesson/hello:" + strconv.Itoa(os.Getpid())}
	ships.m[l] = s
	l.Set("lab", dir)
	l.Set("blobs", dir)
	l.Set("ship", s.local)
	l.Set("pulled", s.local)
	l.Defer(func() error {
		ships.Lock()
		delete(ships.m, l)
		ships.Unlock()
		err := s.reg.stop()
		if rerr := os.RemoveAll(dir); err == nil {
			err = rerr
		}
		return err
	})
	return s, nil
}

// removeImage removes ref from the lab's store when the lab closes, if it
// is still there.
func removeImage(l *Lab, ref string) {
	l.Defer(func() error {
		s, err := l.Store()
		if err != nil {
			return err
		}
		if _, err := s.Get(ref); err != nil {
			return nil
		}
		_, err = s.Remove(ref, true)
		return err
	})
}

func shipContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// shortDigest is a digest as docker shows it, 12 hex digits.
func shortDigest(d string) string {
	if _, h, ok := strings.Cut(d, ":"); ok && len(h) > 12 {
		return h[:12]
	}
	return d
}

var lessonShip = &Lesson{
	ID:      "ship",
	Title:   i18n.T("Build, ship, run", "빌드, 배포, 실행"),
	Summary: i18n.T("an image is built in layers, shipped by its digests through a registry, and runs anywhere the same", "이미지는 레이어로 빌드되고, 다이제스트로 레지스트리를 거쳐 배포되며, 어디서나 똑같이 돈다"),
	Intro: i18n.T(
		"Docker's promise was three words: build, ship, run. An image is built once, in layers; it is shipped through a registry, a plain HTTP service that stores blobs under their SHA-256 and nothing else; and it runs wherever it is pulled, the same bytes. This lesson does the whole cycle on this machine: it builds an image from a three-line Dockerfile, builds it again from the cache, starts a registry of its own on 127.0.0.1 (Debian's docker-registry), pushes the image, removes it, pulls it back and runs it. Where no registry is installed it says how to get one and ships through a `save` archive instead.",
		"docker의 약속은 세 단어였습니다. 빌드, 배포, 실행. 이미지는 레이어로 한 번 빌드되고, 레지스트리를 거쳐 배포됩니다. 레지스트리는 블롭을 SHA-256 이름으로 저장할 뿐인 평범한 HTTP 서비스입니다. 그리고 이미지는 어디로 pull되든 같은 바이트로 돕니다. 이 레슨은 이 순환 전체를 이 기계에서 해 봅니다. 세 줄짜리 Dockerfile로 이미지를 빌드하고, 캐시로 한 번 더 빌드하고, 127.0.0.1에 자기 레지스트리(Debian의 docker-registry)를 띄우고, 이미지를 push하고, 지우고, 다시 pull해서 실행합니다. 레지스트리가 설치되어 있지 않으면 설치 방법을 알려 주고 대신 `save` 묶음으로 배포합니다."),
	Needs: Needs{
		Inside: []string{"cat"},
		Host:   []string{"cat", "ls", "stepbox"},
	},
	Steps: []Step{
		{
			Title: i18n.T("Build: one layer per instruction", "빌드: 명령어 하나에 레이어 하나"),
			Explain: i18n.T(
				"A Dockerfile of three lines, in the context directory $CTX beside hello.txt: FROM names the base image, COPY puts hello.txt into the image, CMD says what a container of it runs. `stepbox build` takes them one at a time, each step an image of its own: COPY makes a layer, a tar of what it added, kept in the store under its SHA-256 and unpacked beside it; CMD changes only the config and makes no layer. history lists the instructions, newest first, with the size each one's layer adds.",
				"세 줄짜리 Dockerfile이 컨텍스트 디렉터리 $CTX에 hello.txt와 함께 있습니다. FROM은 기반 이미지를 대고, COPY는 hello.txt를 이미지에 넣고, CMD는 그 이미지의 컨테이너가 무엇을 돌릴지 정합니다. `stepbox build`는 한 줄씩 처리하고, 단계마다 이미지가 하나씩 생깁니다. COPY는 레이어를 만듭니다. 더한 것을 담은 tar이고, 저장소에 SHA-256 이름으로 보관되며 그 옆에 풀어 둡니다. CMD는 설정(config)만 바꾸고 레이어를 만들지 않습니다. history는 명령어들을 최신 것부터, 각 레이어가 더하는 크기와 함께 보여 줍니다."),
			Syscalls: []Syscall{{"openat", 2, "CTX/hello.txt"}, {"rename", 2, "blobs/tmp → blobs/sha256/…"}},
			Shell:    "cat $CTX/Dockerfile\nstepbox build -t hello $CTX\nstepbox history hello\nls $LAYER",
			Apply:    shipBuild,
			Probes:   []Probe{{Host, shipDockerfile}, {Host, shipHistory}, {Host, shipLsLayer}},
			Rows: []Row{
				hostRow(i18n.T("layers: base, image", "레이어 수: 기반, 이미지"), func(e *Evidence) string { return field(noted(e, nShipMade), 1) + ", " + field(noted(e, nShipMade), 2) }),
				hostRow(i18n.T("the COPY layer holds", "COPY 레이어의 내용"), func(e *Evidence) string { return dashIfEmpty(noted(e, nShipTop)) }),
				hostRow(i18n.T("history: the two new steps", "history: 새 단계 둘"), func(e *Evidence) string { return dashIfEmpty(noted(e, nShipSteps)) }),
			},
			Expect: Expect{
				Text: i18n.T("COPY added one layer holding hello.txt; CMD added none", "COPY가 hello.txt를 담은 레이어 하나를 더하고, CMD는 하나도 더하지 않는다"),
				Check: func(e *Evidence) bool {
					f := strings.Fields(noted(e, nShipMade))
					if len(f) != 3 {
						return false
					}
					base, _ := strconv.Atoi(f[1])
					n, _ := strconv.Atoi(f[2])
					return base > 0 && n == base+1 && noted(e, nShipTop) == "hello.txt" && noted(e, nShipSteps) == "CMD COPY" &&
						noted(e, nShipUnpacked) == "yes"
				},
			},
		},
		{
			Title: i18n.T("Build again: the cache", "다시 빌드: 캐시"),
			Explain: i18n.T(
				"The same build a second time, with nothing changed. For each step the builder looks for an image made from the same base by the same instruction and, for COPY, the same files (their content's checksum is part of the key); it finds one, says CACHED, and goes on from it. Nothing is built: the image is the very one, same ID, and the store gains no image, no blob and no layer. Change hello.txt and the COPY step, and every step after it, is built again.",
				"아무것도 바꾸지 않고 같은 빌드를 한 번 더 합니다. 빌더는 단계마다 같은 기반에서 같은 명령어로, COPY라면 같은 파일로(내용의 체크섬이 키의 일부입니다) 만든 이미지를 찾습니다. 찾으면 CACHED라고 말하고 그 이미지에서 이어 갑니다. 아무것도 빌드하지 않습니다. 이미지는 ID까지 바로 그 이미지이고, 저장소에는 이미지도, 블롭도, 레이어도 늘지 않습니다. hello.txt를 바꾸면 COPY 단계와 그 뒤의 모든 단계를 다시 빌드합니다."),
			Syscalls: []Syscall{{"read", 2, "CTX/hello.txt (its checksum, the cache key)"}, {"openat", 2, "images.json"}},
			Shell:    "stepbox build -t hello $CTX",
			Apply:    shipRebuild,
			Probes:   []Probe{{Host, shipSecondLog}},
			Rows: []Row{
				hostRow(i18n.T("ID, built twice", "두 번 빌드한 ID"), func(e *Evidence) string {
					return shortDigest(field(noted(e, nShipMade), 0)) + ", " + shortDigest(dashIfEmpty(noted(e, nShipAgain)))
				}),
				hostRow(i18n.T("store: images, blobs", "저장소: 이미지, 블롭"), func(e *Evidence) string { return dashIfEmpty(noted(e, nShipCounts)) }),
			},
			Expect: Expect{
				Text: i18n.T("the same image, and nothing new in the store", "같은 이미지이고, 저장소에 새것이 없다"),
				Check: func(e *Evidence) bool {
					c := strings.Split(noted(e, nShipCounts), " → ")
					return noted(e, nShipAgain) == field(noted(e, nShipMade), 0) && len(c) == 2 && c[0] == c[1]
				},
			},
		},
		{
			Title: i18n.T("A registry of its own, on 127.0.0.1", "127.0.0.1에 자기만의 레지스트리"),
			Explain: i18n.T(
				"A registry is an HTTP service that speaks the OCI distribution protocol: GET /v2/ says it is one, blobs go up and down under their digests, manifests under tags. The lesson starts Debian's docker-registry (the CNCF distribution registry) on a free port of 127.0.0.1, with a configuration and a storage directory it writes in $LAB; it stops it and removes the storage when the lesson ends. The storage starts empty. Without docker-registry on this machine (install it with apt-get install docker-registry), the lesson says so, ships the image as a `save` archive instead, and loads it back.",
				"레지스트리는 OCI 배포 프로토콜을 말하는 HTTP 서비스입니다. GET /v2/에 레지스트리라고 대답하고, 블롭은 다이제스트 이름으로 오르내리며, 매니페스트는 태그 이름으로 오갑니다. 레슨은 Debian의 docker-registry(CNCF distribution 레지스트리)를 127.0.0.1의 빈 포트에 띄웁니다. 설정과 저장 디렉터리는 $LAB에 직접 쓰고, 레슨이 끝나면 레지스트리를 멈추고 저장소를 지웁니다. 저장소는 빈 채로 시작합니다. 이 기계에 docker-registry가 없으면(apt-get install docker-registry로 설치합니다) 레슨은 그렇다고 알려 주고, 대신 `save` 묶음으로 이미지를 배포한 뒤 다시 load합니다."),
			Syscalls: []Syscall{{"bind", 2, "127.0.0.1:PORT"}, {"connect", 2, "127.0.0.1:PORT  GET /v2/"}},
			Shell:    "cat > $LAB/config.yml <<EOF\nversion: 0.1\nstorage: {filesystem: {rootdirectory: $LAB/storage}}\nhttp: {addr: 127.0.0.1:5000}\nEOF\ndocker-registry serve $LAB/config.yml &\ncurl http://127.0.0.1:5000/v2/",
			Apply:    shipRegistry,
			Probes:   []Probe{{Host, shipLsLab}},
			Rows: []Row{
				hostRow(i18n.T("registry", "레지스트리"), func(e *Evidence) string { return noted(e, nShipReg) }),
				hostRow(i18n.T("GET /v2/ answers", "GET /v2/의 대답"), func(e *Evidence) string { return noted(e, nShipPing) }),
				hostRow(i18n.T("blobs in its storage", "저장소의 블롭 수"), func(e *Evidence) string { return noted(e, nShipBlobs0) }),
			},
			Expect: Expect{
				Text: i18n.T("an empty registry answers on 127.0.0.1 (or there is none, and the lesson says how to get one)",
					"빈 레지스트리가 127.0.0.1에서 대답한다(없으면 레슨이 설치 방법을 알려 준다)"),
				Check: func(e *Evidence) bool {
					if strings.HasPrefix(noted(e, nShipReg), "- ") {
						return noted(e, nShipPing) == "-"
					}
					return strings.HasPrefix(noted(e, nShipReg), "127.0.0.1:") && noted(e, nShipPing) == "200" && noted(e, nShipBlobs0) == "0"
				},
			},
		},
		{
			Title: i18n.T("Ship: the blobs keep their digests", "배포: 블롭은 다이제스트를 지닌 채 간다"),
			Explain: i18n.T(
				"`stepbox push --tls-verify=false` sends the image: each blob the registry lacks (HEAD asks first), the config, and last the manifest, the very bytes the store keeps. The registry stores every blob in a directory named by its SHA-256, and the lesson checks each against its content: the manifest, the config (whose digest is the image's ID) and every layer have the same digests there as in the store, and the tag points at the store's manifest digest. --tls-verify=false lets stepbox speak plain HTTP to this one named registry; without it stepbox wants verified HTTPS, even on 127.0.0.1. Without a registry, `stepbox save` writes the same blobs under the same names into a tar.",
				"`stepbox push --tls-verify=false`가 이미지를 보냅니다. 레지스트리에 없는 블롭마다(먼저 HEAD로 묻습니다), 설정(config), 마지막으로 저장소가 가진 바로 그 바이트의 매니페스트를 보냅니다. 레지스트리는 블롭마다 SHA-256 이름의 디렉터리에 저장하고, 레슨은 그 내용을 하나하나 검사합니다. 매니페스트, 설정(그 다이제스트가 이미지 ID입니다), 모든 레이어가 저장소에서와 같은 다이제스트를 가지며, 태그는 저장소의 매니페스트 다이제스트를 가리킵니다. --tls-verify=false는 이름을 댄 이 레지스트리 하나에만 평문 HTTP를 허락합니다. 그것이 없으면 stepbox는 127.0.0.1에서도 검증된 HTTPS를 원합니다. 레지스트리가 없으면 `stepbox save`가 같은 블롭을 같은 이름으로 tar에 씁니다."),
			Syscalls: []Syscall{{"sendto", 2, "PUT /v2/lesson/hello/blobs/uploads/…?digest=sha256:…"}, {"sendto", 2, "PUT /v2/lesson/hello/manifests/1"}},
			Shell:    "stepbox tag hello 127.0.0.1:5000/lesson/hello:1\nstepbox push --tls-verify=false 127.0.0.1:5000/lesson/hello:1\nls $LAB/storage/docker/registry/v2/blobs/sha256/*",
			Apply:    shipPush,
			Probes:   []Probe{{Host, shipBlobs}},
			Rows: []Row{
				hostRow(i18n.T("push", "push"), func(e *Evidence) string { return noted(e, nShipPushed) }),
				hostRow(i18n.T("blobs the image has", "이미지의 블롭 수"), func(e *Evidence) string { return strconv.Itoa(len(strings.Fields(noted(e, nShipWant)))) }),
				hostRow(i18n.T("… shipped, content matching name", "… 배포됨, 내용이 이름과 일치"), func(e *Evidence) string { return field(noted(e, nShipHave), 0) + ", " + field(noted(e, nShipHave), 1) }),
				hostRow(i18n.T("manifest: store, shipped", "매니페스트: 저장소, 배포본"), func(e *Evidence) string {
					return shortDigest(noted(e, nShipManifest)) + ", " + shortDigest(dashIfEmpty(noted(e, nShipLink)))
				}),
			},
			Expect: Expect{
				Text: i18n.T("every blob is shipped under the digest the store knows it by", "모든 블롭이 저장소가 아는 다이제스트 그대로 배포된다"),
				Check: func(e *Evidence) bool {
					want := len(strings.Fields(noted(e, nShipWant)))
					have := strings.Fields(noted(e, nShipHave))
					return noted(e, nShipPushed) == "ok" && want >= 3 && len(have) == 2 &&
						have[0] == strconv.Itoa(want) && have[1] == have[0] && noted(e, nShipLink) == noted(e, nShipManifest)
				},
			},
		},
		{
			Title: i18n.T("rmi, then pull it back", "rmi, 그리고 다시 pull"),
			Explain: i18n.T(
				"`stepbox rmi` removes the image from the store: its name, its config, and the blob and unpacked directory of its own layer (the base's layer stays, the lab's image still needs it). `stepbox pull` brings it back from the registry: the manifest by its tag, then each blob by its digest, checked as it is written. Only the layer the store lacks comes over the network; the one it has is \"Already exists\". The image that comes back has the very ID it had. Without a registry, `stepbox load` reads the archive back the same way.",
				"`stepbox rmi`가 저장소에서 이미지를 지웁니다. 이름, 설정, 그리고 자기 레이어의 블롭과 풀어 둔 디렉터리까지 지웁니다(기반 레이어는 실습 이미지가 아직 쓰므로 남습니다). `stepbox pull`이 레지스트리에서 그것을 다시 가져옵니다. 태그로 매니페스트를, 그다음 다이제스트로 블롭마다 가져오고, 쓰는 동안 검사합니다. 저장소에 없는 레이어만 네트워크로 오고, 이미 있는 레이어는 \"Already exists\"입니다. 돌아온 이미지의 ID는 원래와 똑같습니다. 레지스트리가 없으면 `stepbox load`가 같은 방식으로 묶음을 다시 읽습니다."),
			Syscalls: []Syscall{{"unlinkat", 2, "blobs/sha256/…"}, {"recvfrom", 2, "GET /v2/lesson/hello/blobs/sha256:…"}},
			Shell:    "stepbox rmi hello 127.0.0.1:5000/lesson/hello:1\nstepbox pull --tls-verify=false 127.0.0.1:5000/lesson/hello:1\nstepbox images",
			Apply:    shipPull,
			Probes:   []Probe{{Host, shipImages}},
			Rows: []Row{
				hostRow(i18n.T("image after rmi", "rmi 뒤의 이미지"), func(e *Evidence) string { return present(noted(e, nShipGone), "gone") }),
				hostRow(i18n.T("layers fetched, of", "가져온 레이어 / 전체"), func(e *Evidence) string { return dashIfEmpty(noted(e, nShipFetched)) }),
				hostRow(i18n.T("ID: built, pulled", "ID: 만든 것, 가져온 것"), func(e *Evidence) string {
					return shortDigest(field(noted(e, nShipMade), 0)) + ", " + shortDigest(dashIfEmpty(noted(e, nShipBack)))
				}),
			},
			Expect: Expect{
				Text: i18n.T("the image left the store and came back with the same ID", "이미지가 저장소를 떠났다가 같은 ID로 돌아온다"),
				Check: func(e *Evidence) bool {
					return noted(e, nShipGone) == "yes" && noted(e, nShipBack) != "" && noted(e, nShipBack) == field(noted(e, nShipMade), 0)
				},
			},
		},
		{
			Title: i18n.T("Run what was shipped", "배포된 것을 실행"),
			Explain: i18n.T(
				"`stepbox run` starts a container of the image that came back: its layers stacked under a layer of the container's own, and the image's CMD as its command. It prints the greeting that COPY put into the image, and exits 0. Built, shipped, run: the same bytes, checked by their digests at every hop.",
				"`stepbox run`이 돌아온 이미지로 컨테이너를 띄웁니다. 이미지의 레이어를 쌓고 그 위에 컨테이너 자신의 레이어를 얹으며, 이미지의 CMD를 명령으로 씁니다. COPY가 이미지에 넣은 인사말을 출력하고 0으로 끝납니다. 빌드, 배포, 실행: 같은 바이트가 매 단계 다이제스트로 검사되며 옵니다."),
			Syscalls: []Syscall{{"mount", 2, `"overlay", ROOT, "overlay", 0, "lowerdir=…"`}, {"execve", 2, `"cat", ["/hello.txt"]`}},
			Shell:    "stepbox run --rm 127.0.0.1:5000/lesson/hello:1",
			Probes:   []Probe{{Host, shipRun}},
			Rows: []Row{
				{
					Label: i18n.T("the container printed", "컨테이너의 출력"),
					Host:  func(e *Evidence) string { return "-" },
					Box:   func(e *Evidence) string { return dashIfEmpty(probeText(e, Host, shipRun)) },
				},
				hostRow(i18n.T("exit code", "종료 코드"), func(e *Evidence) string { return strconv.Itoa(e.Probe(Host, shipRun).Code) }),
			},
			Expect: Expect{
				Text: i18n.T("the shipped image runs its command and prints the greeting", "배포된 이미지가 자기 명령을 돌려 인사말을 출력한다"),
				Check: func(e *Evidence) bool {
					return probeOK(e, Host, shipRun) && probeText(e, Host, shipRun) == shipGreeting
				},
			},
		},
	},
	Demo: Demo{
		Feature: "insecure",
		Explain: i18n.T(
			"Without --tls-verify=false, stepbox speaks to the registry only over verified HTTPS, as podman does, even on 127.0.0.1; the lesson's registry speaks plain HTTP. The push is refused before a single blob moves, so the registry stays empty, the image removed by rmi cannot come back, and there is nothing to run. (On a machine without docker-registry the demo has no registry to be refused by.)",
			"--tls-verify=false가 없으면 stepbox는 podman처럼 127.0.0.1에서도 검증된 HTTPS로만 레지스트리와 이야기합니다. 레슨의 레지스트리는 평문 HTTP를 말합니다. 그래서 블롭 하나 움직이기 전에 push가 거절되어 레지스트리는 빈 채로 남고, rmi로 지운 이미지는 돌아올 수 없으며, 실행할 것도 없습니다. (docker-registry가 없는 기계에서는 데모가 거절당할 레지스트리가 없습니다.)"),
		Setup: func(l *Lab) { l.Set("secure", "yes") },
		Fails: []int{4, 5, 6},
	},
	Exercises: shipExercises,
	Outro: i18n.T(
		"An image travels as blobs named by their SHA-256: the store, the registry and a save archive all name them the same, and each hop checks them. A registry is only a place to keep those blobs; any machine that pulls them gets the very image that was built.",
		"이미지는 SHA-256으로 이름 붙은 블롭으로 이동합니다. 저장소도, 레지스트리도, save 묶음도 같은 이름을 쓰고, 단계마다 그것을 검사합니다. 레지스트리는 그 블롭을 보관하는 곳일 뿐이고, pull하는 기계는 어디서나 빌드된 바로 그 이미지를 받습니다."),
}

// shipDockerfile is the lesson's three lines, FROM the lab's image.
func shipDockerfileText(base string) string {
	return "FROM " + base + "\nCOPY hello.txt /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n"
}

// shipBuild writes the context and builds it with the stepbox command
// line, as the learner would.
func shipBuild(l *Lab) error {
	if err := l.Ensure(); err != nil {
		return err
	}
	st, err := shipOf(l)
	if err != nil {
		return err
	}
	st.secure = l.Var("secure") == "yes"
	sb, err := l.stepboxCommand()
	if err != nil {
		return err
	}
	s, err := l.Store()
	if err != nil {
		return err
	}
	ref, err := l.Image()
	if err != nil {
		return err
	}
	baseImg, err := s.Get(ref)
	if err != nil {
		return err
	}
	// FROM takes a name; the lab's image has one (stepbox-builtin, or the
	// tag its import was given).
	base := ref
	if len(baseImg.Tags) > 0 {
		base = baseImg.Tags[0]
	}
	ctx := filepath.Join(st.dir, "context")
	l.Set("ctx", ctx)
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctx, "hello.txt"), []byte(shipGreeting+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(shipDockerfileText(base)), 0o644); err != nil {
		return err
	}
	removeImage(l, st.local)
	if err := shipBuildLogged(l, sb, st, ctx, "first-build.log"); err != nil {
		return err
	}
	img, err := s.Get(st.local)
	if err != nil {
		return err
	}
	st.id = string(img.ID)
	layers := s.Layers(img)
	note(l, nShipMade, fmt.Sprintf("%s %d %d", img.ID, len(s.Layers(baseImg)), len(layers)))
	if h := s.History(img); len(h) >= 2 {
		note(l, nShipSteps, firstWord(h[0].CreatedBy)+" "+firstWord(h[1].CreatedBy))
	}
	if len(layers) > 0 {
		top := layers[len(layers)-1]
		l.Set("layer", top.Dir)
		names, err := layerEntries(top.Blob)
		if err != nil {
			return err
		}
		note(l, nShipTop, strings.Join(slices.DeleteFunc(names, func(n string) bool { return n == "" || n == "." }), " "))
		note(l, nShipUnpacked, yesNo(exists(filepath.Join(top.Dir, "hello.txt"))))
	}
	return nil
}

// shipBuildLogged builds ctx as the lesson's image with the stepbox command
// line sb, as the learner would, and keeps its output in the lesson's
// directory as log (the steps show it).
func shipBuildLogged(l *Lab, sb string, st *shipState, ctx, log string) error {
	out, err := l.Host(fmt.Sprintf("%s build --progress plain -t %s %s", sb, st.local, ctx))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(st.dir, log), []byte(out.Output), 0o644); err != nil {
		return err
	}
	if out.Code != 0 {
		return &stepError{what: "stepbox build", out: out.Output}
	}
	return nil
}

// firstWord is an instruction's keyword in a history's created-by.
func firstWord(s string) string {
	s = strings.TrimPrefix(s, "/bin/sh -c #(nop) ")
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return "-"
}

// shipRebuild builds the same context again, counting the store's images
// and blobs before and after.
func shipRebuild(l *Lab) error {
	st, err := shipOf(l)
	if err != nil {
		return err
	}
	sb, err := l.stepboxCommand()
	if err != nil {
		return err
	}
	s, err := l.Store()
	if err != nil {
		return err
	}
	before, err := storeCounts(s)
	if err != nil {
		return err
	}
	if err := shipBuildLogged(l, sb, st, l.Var("ctx"), "second-build.log"); err != nil {
		return err
	}
	after, err := storeCounts(s)
	if err != nil {
		return err
	}
	note(l, nShipCounts, before+" → "+after)
	if img, err := s.Get(st.local); err == nil {
		note(l, nShipAgain, string(img.ID))
	}
	return nil
}

// storeCounts is "IMAGES, BLOBS" in the store now, untagged images (a
// build's steps) included.
func storeCounts(s *image.Store) (string, error) {
	imgs, err := s.List()
	if err != nil {
		return "", err
	}
	blobs, err := filepath.Glob(filepath.Join(s.Dir(), "blobs", "sha256", "*"))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d, %d", len(imgs), len(blobs)), nil
}

// shipRegistry starts the lesson's registry, when there is one to start.
func shipRegistry(l *Lab) error {
	st, err := shipOf(l)
	if err != nil {
		return err
	}
	bin := registryBinary()
	if bin == "" {
		note(l, nShipReg, "- (apt-get install docker-registry)")
		note(l, nShipPing, "-")
		note(l, nShipBlobs0, "-")
		return nil
	}
	r, err := startRegistry(bin, st.dir)
	if err != nil {
		return err
	}
	st.reg = r
	st.remote = r.Addr + "/lesson/hello:1"
	l.Set("blobs", blobsDir(r.Storage))
	note(l, nShipReg, r.Addr)
	code, err := r.ping()
	if err != nil {
		return err
	}
	note(l, nShipPing, strconv.Itoa(code))
	blobs, _, err := storedBlobs(r.Storage)
	if err != nil {
		return err
	}
	note(l, nShipBlobs0, strconv.Itoa(len(blobs)))
	return nil
}

// shipImage is the lesson's state, its store and the image it built.
func shipImage(l *Lab) (*shipState, *image.Store, *image.Image, error) {
	st, err := shipOf(l)
	if err != nil {
		return nil, nil, nil, err
	}
	s, err := l.Store()
	if err != nil {
		return nil, nil, nil, err
	}
	img, err := s.Get(st.id)
	if err != nil {
		return nil, nil, nil, err
	}
	return st, s, img, nil
}

// shipPush sends the image to the registry, or saves it without one, and
// reads back what arrived.
func shipPush(l *Lab) error {
	st, s, img, err := shipImage(l)
	if err != nil {
		return err
	}
	want := []string{string(img.ManifestDigest), string(img.ID)}
	for _, li := range s.Layers(img) {
		want = append(want, string(li.Digest))
	}
	note(l, nShipManifest, string(img.ManifestDigest))
	if st.reg == nil {
		return shipSave(l, st, s, img, want)
	}
	note(l, nShipWant, strings.Join(want, " "))
	ctx, cancel := shipContext()
	defer cancel()
	if _, err := s.Push(ctx, st.local, st.remote, image.RemoteOptions{Insecure: !st.secure}); err != nil {
		note(l, nShipPushed, err.Error())
	} else {
		note(l, nShipPushed, "ok")
	}
	have, good, err := storedBlobs(st.reg.Storage)
	if err != nil {
		return err
	}
	n := 0
	for _, d := range want {
		if slices.Contains(have, d) {
			n++
		}
	}
	note(l, nShipHave, fmt.Sprintf("%d %d", n, min(n, good)))
	note(l, nShipLink, tagLink(st.reg.Storage, "lesson/hello", "1"))
	return nil
}

// shipSave writes the image as a `docker save` archive in the lesson's
// directory: the way without a registry.
func shipSave(l *Lab, st *shipState, s *image.Store, img *image.Image, want []string) error {
	tarPath := filepath.Join(st.dir, "hello.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		return err
	}
	err = s.Save(f, []string{st.local}, image.SaveOptions{Format: image.FormatDocker})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	note(l, nShipPushed, "ok")
	sf, err := readSaved(tarPath, string(img.ID))
	if err != nil {
		return err
	}
	// A docker archive has no manifest blob: its manifest.json lists the
	// config and layers by their digests.
	want = want[1:]
	note(l, nShipWant, strings.Join(want, " "))
	n := len(sf.Layers)
	if sf.ConfigOK {
		n++
	}
	note(l, nShipHave, fmt.Sprintf("%d %d", n, sf.LayersOK+min(1, n-len(sf.Layers))))
	note(l, nShipLink, string(img.ManifestDigest))
	l.Set("blobs", st.dir)
	return nil
}

// shipPull removes the image and brings it back: from the registry, or
// from the archive.
func shipPull(l *Lab) error {
	st, s, img, err := shipImage(l)
	if err != nil {
		return err
	}
	if _, err := s.Remove(st.local, false); err != nil {
		return err
	}
	_, gone := s.Get(st.id)
	note(l, nShipGone, yesNo(gone != nil))
	if st.reg == nil {
		loaded, err := s.LoadPath(filepath.Join(st.dir, "hello.tar"), image.LoadOptions{})
		if err != nil {
			return err
		}
		if len(loaded) == 1 {
			n := len(s.Layers(img))
			note(l, nShipBack, string(loaded[0].ID))
			note(l, nShipFetched, fmt.Sprintf("%d/%d", n, n))
		}
		return nil
	}
	ctx, cancel := shipContext()
	defer cancel()
	removeImage(l, st.remote)
	p, err := s.Pull(ctx, st.remote, image.RemoteOptions{Insecure: !st.secure})
	if err != nil {
		note(l, nShipFetched, "-")
		return nil
	}
	l.Set("pulled", st.remote)
	note(l, nShipBack, string(p.Image.ID))
	note(l, nShipFetched, fmt.Sprintf("%d/%d", p.Fetched, len(p.Layers)))
	return nil
}
