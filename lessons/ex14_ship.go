package lessons

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox/image"
)

// The exercises of lesson 14 (build, ship, run), done with stepbox and
// Debian's docker-registry in the exercise's shell: the image store is
// the session's (under its --root), and the registry the learner starts
// is found among their processes, its storage read where its own
// configuration puts it.
var shipExercises = []*Exercise{exShipBuild, exShipDigest}

var exShipBuild = &Exercise{
	Title: i18n.T("A Dockerfile whose CMD greets", "CMD가 인사하는 Dockerfile"),
	Task: i18n.T(
		"Build an image named greet from a Dockerfile of your own, FROM stepbox-builtin, whose command prints hello when a container of it runs (stepbox run --rm greet). Keep the context in a directory of $STEPBOX_ROOT, which goes with the exercise. The check reads greet's config and history in the store.",
		"stepbox-builtin을 FROM으로 하는 자기만의 Dockerfile로 greet라는 이미지를 빌드하세요. 그 이미지의 컨테이너를 돌리면(stepbox run --rm greet) 명령이 hello를 출력해야 합니다. 컨텍스트는 연습 문제와 함께 사라지는 $STEPBOX_ROOT 안의 디렉터리에 두세요. 검사는 저장소에서 greet의 설정(config)과 history를 읽습니다."),
	Needs: []string{"stepbox"},
	Hints: []i18n.Text{
		i18n.T("RUN runs while the image is built, and its output is gone with the build; CMD is what a container of the image runs.",
			"RUN은 이미지를 빌드하는 동안 돌고 그 출력은 빌드와 함께 끝납니다. CMD가 그 이미지의 컨테이너가 돌리는 명령입니다."),
		i18n.T("Two lines are enough: FROM stepbox-builtin, then CMD [\"echo\", \"hello\"]; stepbox build -t greet DIR builds the directory DIR holding the Dockerfile.",
			"두 줄이면 됩니다. FROM stepbox-builtin, 그리고 CMD [\"echo\", \"hello\"]. stepbox build -t greet DIR이 Dockerfile이 든 디렉터리 DIR을 빌드합니다."),
	},
	Answer: "mkdir -p $STEPBOX_ROOT/greet\nprintf 'FROM stepbox-builtin\\nCMD [\"echo\", \"hello\"]\\n' > $STEPBOX_ROOT/greet/Dockerfile\nstepbox build -t greet $STEPBOX_ROOT/greet\nstepbox run --rm greet",
	Check: func(s *Scene) Verdict {
		st, err := sessionStore(s)
		if err != nil {
			return Verdict{Key: "no-image", Wrong: tf("the image store cannot be read: %v", "이미지 저장소를 읽을 수 없습니다: %v", err),
				Hint: i18n.T("stepbox images lists the images of this exercise.", "stepbox images가 이 연습 문제의 이미지를 보여 줍니다.")}
		}
		img, err := st.Get("greet")
		if err != nil {
			return Verdict{Key: "no-image", Seen: []i18n.Text{imagesSeen(st)},
				Wrong: i18n.T("there is no image named greet", "greet라는 이미지가 없습니다"),
				Hint:  i18n.T("Write a Dockerfile in a directory (mkdir -p $STEPBOX_ROOT/greet) and build it: stepbox build -t greet $STEPBOX_ROOT/greet.", "디렉터리(mkdir -p $STEPBOX_ROOT/greet)에 Dockerfile을 쓰고 빌드하세요: stepbox build -t greet $STEPBOX_ROOT/greet.")}
		}
		var steps []string
		for _, h := range st.History(img) {
			steps = append(steps, h.CreatedBy)
		}
		cfg := img.Config.Config
		command := strings.Join(slices.Concat(cfg.Entrypoint, cfg.Cmd), " ")
		seen := tf("greet (%s) runs: %s", "greet(%s)가 돌리는 명령: %s", image.ShortID(img.ID), dashIfEmpty(command))
		built := slices.ContainsFunc(steps, func(c string) bool { return strings.HasPrefix(c, "CMD ") || strings.HasPrefix(c, "ENTRYPOINT ") })
		switch {
		case !strings.Contains(command, "hello") && slices.ContainsFunc(steps, func(c string) bool { return strings.HasPrefix(c, "RUN ") && strings.Contains(c, "hello") }):
			return Verdict{Key: "run-not-cmd", Seen: []i18n.Text{seen, i18n.T("its history has a RUN step that says hello", "history에 hello를 말하는 RUN 단계가 있습니다")},
				Wrong: i18n.T("hello was printed once, while the image was built; a container of greet runs the base's command", "hello는 이미지를 빌드할 때 한 번 출력되었을 뿐이고, greet의 컨테이너는 기반 이미지의 명령을 돌립니다"),
				Hint:  i18n.T("Use CMD, not RUN: CMD [\"echo\", \"hello\"]; then build again with the same -t greet.", "RUN이 아니라 CMD를 쓰세요: CMD [\"echo\", \"hello\"]. 그다음 같은 -t greet로 다시 빌드하세요.")}
		case !built:
			return Verdict{Key: "not-built", Seen: []i18n.Text{seen},
				Wrong: i18n.T("greet was not built from a Dockerfile with a CMD: its history has no CMD step", "greet는 CMD가 있는 Dockerfile로 빌드되지 않았습니다. history에 CMD 단계가 없습니다"),
				Hint:  i18n.T("Build it with stepbox build from a Dockerfile whose last line is CMD [\"echo\", \"hello\"].", "마지막 줄이 CMD [\"echo\", \"hello\"]인 Dockerfile로 stepbox build 하세요.")}
		case !strings.Contains(command, "hello"):
			return Verdict{Key: "no-greeting", Seen: []i18n.Text{seen},
				Wrong: i18n.T("greet's command does not print hello", "greet의 명령이 hello를 출력하지 않습니다"),
				Hint:  i18n.T("Make the CMD print it: CMD [\"echo\", \"hello\"].", "CMD가 그것을 출력하게 하세요: CMD [\"echo\", \"hello\"].")}
		}
		return Verdict{OK: true, Seen: []i18n.Text{seen,
			tf("built in %d steps, the newest: %s", "%d단계로 빌드되었고, 가장 새 단계는 %s입니다", len(steps), steps[0])}}
	},
}

// registryProcs are the learner's docker-registry processes, each with
// the storage directory its configuration names (as this process can
// reach it), "" when it cannot be read.
func registryProcs(s *Scene) map[*Proc]string {
	out := map[*Proc]string{}
	for _, p := range s.Procs {
		if p.Comm != "docker-registry" && !(len(p.Args) > 0 && filepath.Base(p.Args[0]) == "docker-registry") {
			continue
		}
		out[p] = ""
		if len(p.Args) < 3 || p.Args[1] != "serve" {
			continue
		}
		cfg := p.Args[2]
		if !filepath.IsAbs(cfg) {
			cfg = filepath.Join(fmt.Sprintf("/proc/%d/cwd", p.PID), cfg)
		} else {
			cfg = p.In(cfg)
		}
		if dir := rootDirectory(cfg); dir != "" {
			out[p] = p.In(dir)
		}
	}
	return out
}

// rootDirectory reads storage.filesystem.rootdirectory from a registry's
// configuration (distribution's configuration.md): the one key of that
// name, whatever its indentation.
func rootDirectory(cfg string) string {
	f, err := os.Open(cfg)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && k == "rootdirectory" {
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return ""
}

// manifestsIn lists the manifests a registry's storage holds, as
// "repository@digest".
func manifestsIn(storage string) []string {
	var out []string
	repos := filepath.Join(storage, "docker/registry/v2/repositories")
	_ = filepath.WalkDir(repos, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() || d.Name() != "_manifests" {
			return nil
		}
		repo, _ := filepath.Rel(repos, filepath.Dir(p))
		revs, _ := os.ReadDir(filepath.Join(p, "revisions", "sha256"))
		for _, r := range revs {
			out = append(out, repo+"@sha256:"+r.Name())
		}
		return filepath.SkipDir
	})
	return out
}

func imagesSeen(st *image.Store) i18n.Text {
	list, _ := st.List()
	return tf("%d images in this exercise's store", "이 연습 문제의 저장소에 이미지 %d개", len(list))
}

var exShipDigest = &Exercise{
	Title: i18n.T("Ship by digest", "다이제스트로 배포"),
	Task: i18n.T(
		"Start Debian's docker-registry on 127.0.0.1:5000, with a configuration you write and its storage in $STEPBOX_ROOT, and leave it running. Push the built-in image (stepbox run --rm -- true puts it in the store as stepbox-builtin) to it, remove the image from the store with stepbox rmi, and pull it back by its digest, REGISTRY/NAME@sha256:…. The check reads the registry's storage and the store: the image must be back, named by nothing but its digest.",
		"Debian의 docker-registry를 직접 쓴 설정으로 127.0.0.1:5000에 띄우고, 저장소는 $STEPBOX_ROOT에 두고, 계속 돌게 두세요. 내장 이미지(stepbox run --rm -- true가 stepbox-builtin으로 저장소에 넣습니다)를 거기로 push하고, stepbox rmi로 저장소에서 지운 다음, 다이제스트로(REGISTRY/NAME@sha256:…) 다시 pull하세요. 검사는 레지스트리의 저장소와 이미지 저장소를 읽습니다. 이미지가 돌아와 있어야 하고, 다이제스트 말고 다른 이름은 없어야 합니다."),
	Needs: []string{"stepbox", "docker-registry"},
	Hints: []i18n.Text{
		i18n.T("The registry speaks plain HTTP; stepbox speaks only verified HTTPS unless the registry is named with --tls-verify=false, on push and on pull.",
			"레지스트리는 평문 HTTP를 말합니다. stepbox는 push에서도 pull에서도 --tls-verify=false로 레지스트리를 지정하지 않으면 검증된 HTTPS로만 말합니다."),
		i18n.T("stepbox push prints the manifest's digest (… digest: sha256:…); stepbox pull --tls-verify=false 127.0.0.1:5000/NAME@THAT-DIGEST fetches that very manifest, and tags nothing.",
			"stepbox push가 매니페스트의 다이제스트를 출력합니다(… digest: sha256:…). stepbox pull --tls-verify=false 127.0.0.1:5000/NAME@그-다이제스트가 바로 그 매니페스트를 가져오고, 태그는 붙이지 않습니다."),
	},
	Answer: "mkdir -p $STEPBOX_ROOT/registry\n" +
		"printf 'version: 0.1\\nstorage:\\n  filesystem:\\n    rootdirectory: %s\\nhttp:\\n  addr: 127.0.0.1:5000\\n' $STEPBOX_ROOT/registry/storage > $STEPBOX_ROOT/registry/config.yml\n" +
		"docker-registry serve $STEPBOX_ROOT/registry/config.yml > $STEPBOX_ROOT/registry/log 2>&1 &\n" +
		"sleep 1; stepbox run --rm -- true\n" +
		"D=$(stepbox push --tls-verify=false stepbox-builtin 127.0.0.1:5000/box:1 | sed -n 's/.*digest: \\(sha256:[0-9a-f]*\\).*/\\1/p')\n" +
		"stepbox rmi stepbox-builtin\n" +
		"stepbox pull --tls-verify=false 127.0.0.1:5000/box@$D",
	Check: func(s *Scene) Verdict {
		regs := registryProcs(s)
		if len(regs) == 0 {
			return nothing(s, "no-registry", i18n.T("no docker-registry of yours runs", "내가 띄운 docker-registry가 돌고 있지 않습니다"),
				i18n.T("Write a config.yml (storage: filesystem: rootdirectory: …, http: addr: 127.0.0.1:5000) and start docker-registry serve config.yml &.", "config.yml(storage: filesystem: rootdirectory: …, http: addr: 127.0.0.1:5000)을 쓰고 docker-registry serve config.yml &로 띄우세요."))
		}
		var pushed []string
		var where []string
		for p, storage := range regs {
			where = append(where, p.String())
			if storage != "" {
				pushed = append(pushed, manifestsIn(storage)...)
			}
		}
		slices.Sort(pushed)
		seenReg := tf("%s serves; its storage holds %d manifests", "%s 레지스트리가 돌고 있고, 저장소에 매니페스트가 %d개 있습니다", strings.Join(where, ", "), len(pushed))
		if len(pushed) == 0 {
			return Verdict{Key: "not-pushed", Seen: []i18n.Text{seenReg},
				Wrong: i18n.T("nothing was pushed to your registry", "내 레지스트리에 push된 것이 없습니다"),
				Hint:  i18n.T("stepbox speaks verified HTTPS unless told otherwise: stepbox push --tls-verify=false stepbox-builtin 127.0.0.1:5000/box:1.", "따로 말하지 않으면 stepbox는 검증된 HTTPS로 말합니다: stepbox push --tls-verify=false stepbox-builtin 127.0.0.1:5000/box:1.")}
		}
		st, err := sessionStore(s)
		if err != nil {
			return Verdict{Key: "not-pulled", Seen: []i18n.Text{seenReg}, Wrong: tf("the image store cannot be read: %v", "이미지 저장소를 읽을 수 없습니다: %v", err),
				Hint: i18n.T("stepbox images lists the images of this exercise.", "stepbox images가 이 연습 문제의 이미지를 보여 줍니다.")}
		}
		list, _ := st.List()
		for _, img := range list {
			var in []string
			for _, rd := range pushed {
				if _, d, _ := strings.Cut(rd, "@"); digest.Digest(d) == img.ManifestDigest {
					in = append(in, rd)
				}
			}
			if len(in) == 0 {
				continue
			}
			seenImg := tf("the store's image %s has manifest %s, which the registry holds as %s", "저장소의 이미지 %s의 매니페스트 %s를 레지스트리가 %s로 가지고 있습니다",
				image.ShortID(img.ID), image.ShortID(img.ManifestDigest), in[0])
			if len(img.Tags) > 0 {
				key, hint := "still-tagged", i18n.T("Remove it first (stepbox rmi with each of its names), then pull by digest: stepbox pull --tls-verify=false 127.0.0.1:5000/box@sha256:….", "먼저 지우고(이름마다 stepbox rmi), 다이제스트로 pull하세요: stepbox pull --tls-verify=false 127.0.0.1:5000/box@sha256:….")
				wrong := tf("it still has the name %s: it was never removed, or came back by a tag", "아직 %s라는 이름이 있습니다. 지운 적이 없거나, 태그로 돌아온 것입니다", img.Tags[0])
				return Verdict{Key: key, Seen: []i18n.Text{seenReg, seenImg}, Wrong: wrong, Hint: hint}
			}
			return Verdict{OK: true, Seen: []i18n.Text{seenReg, seenImg,
				i18n.T("it carries no tag: it came back by its digest alone", "태그가 없습니다. 다이제스트만으로 돌아왔습니다")}}
		}
		return Verdict{Key: "not-pulled", Seen: []i18n.Text{seenReg, imagesSeen(st)},
			Wrong: i18n.T("no image in the store has a manifest your registry holds", "내 레지스트리가 가진 매니페스트의 이미지가 저장소에 없습니다"),
			Hint:  i18n.T("Pull it back by digest: stepbox pull --tls-verify=false 127.0.0.1:5000/box@sha256:… (the digest stepbox push printed).", "다이제스트로 다시 pull하세요: stepbox pull --tls-verify=false 127.0.0.1:5000/box@sha256:…(stepbox push가 출력한 다이제스트).")}
	},
}
