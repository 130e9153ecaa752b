package lessons

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox/image"
	"github.com/stepbox/stepbox/sandbox/imagefs"
)

func init() { register(lessonImages) }

// The probes of the images lesson. {layer} is the image's layer as the
// store keeps it, {lower} the one the containers mount (a copy owned by
// their user namespace's range), {file} /bin/stepbox's real place in it,
// {upper} and {upper2} the two containers' own layers, {commit} the image
// the lesson commits, {save} the archive it saves.
const (
	imgLsLayer  = "ls {layer}"
	imgLsRoot   = "ls /"
	imgInodes   = "stat -c %i {lower}{file} /proc/{pid}/root{file} /proc/{peer}/root{file}"
	imgUppers   = "ls {upper} {upper2}"
	imgTailIn   = "tail -n 1 /etc/passwd"
	imgTailOut  = "tail -n 1 {lower}/etc/passwd"
	imgWhiteout = "ls -l {upper}/etc"
	imgGroupIn  = "test -e /etc/group"
	imgHistory  = "{stepbox} history {commit}"
	imgSaveList = "tar -tf {save}"
	imgManifest = "tar -xOf {save} manifest.json"
	// imgNewUser is the line the first container adds to /etc/passwd.
	imgNewUser = "one:x:1001:1001::/:/bin/sh"
)

// The lesson's facts, noted by its steps (note), read by the checks.
const (
	nImgFS       = "img.fs"
	nImgLayer    = "img.layer.names"
	nImgPeerIno  = "img.peer"
	nImgBefore   = "img.passwd.before"
	nImgAfter    = "img.passwd.after"
	nImgUpper1   = "img.upper1"
	nImgUpper2   = "img.upper2"
	nImgPeerLast = "img.peer.last"
	nImgWhiteout = "img.whiteout"
	nImgKept     = "img.group.kept"
	nImgPeerSees = "img.group.peer"
	nImgLayers   = "img.layers"
	nImgTop      = "img.top"
	nImgComment  = "img.comment"
	nImgSaved    = "img.saved"
)

// imgCommitMessage is the commit's message, which history shows.
const imgCommitMessage = "lesson 13"

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

var lessonImages = &Lesson{
	ID:      "images",
	Title:   i18n.T("Images and layers: one image, many containers", "이미지와 레이어: 이미지 하나, 컨테이너 여럿"),
	Summary: i18n.T("an image is a stack of directories; each container writes only a layer of its own", "이미지는 디렉터리를 쌓은 것이고, 컨테이너는 저마다 자기 레이어에만 쓴다"),
	Intro: i18n.T(
		"So far the container ran in one directory, the built-in root filesystem, and whatever it wrote there stayed for the next one. Real containers start from an image: a directory of files written out as tar files stacked in layers, named by their SHA-256. Many containers share one image, and none of them may change it. The kernel's overlayfs makes that possible: it stacks the image's directories, read-only, under an empty directory of the container's own, and shows the container one merged tree. This is what `stepbox run IMAGE` and docker do.",
		"지금까지 컨테이너는 디렉터리 하나, 곧 내장 루트 파일 시스템 위에서 돌았고, 거기 쓴 것은 다음 컨테이너에게도 그대로 남았습니다. 실제 컨테이너는 이미지에서 시작합니다. 이미지란 파일을 모은 디렉터리를 tar 파일로 묶어 레이어로 쌓고, 각각을 SHA-256으로 이름 붙인 것입니다. 컨테이너 여러 개가 이미지 하나를 함께 쓰고, 그중 누구도 이미지를 바꿔서는 안 됩니다. 커널의 overlayfs가 이것을 가능하게 합니다. 이미지의 디렉터리들을 읽기 전용으로 쌓고 그 위에 컨테이너만의 빈 디렉터리를 얹어, 컨테이너에게는 하나로 합쳐진 트리를 보여 줍니다. `stepbox run IMAGE`와 docker가 하는 일이 바로 이것입니다."),
	Needs: Needs{
		Inside: []string{"ls", "rm", "tail", "test"},
		Host:   []string{"ls", "stat", "tail", "tar", "stepbox"},
	},
	Steps: []Step{
		{
			Title: i18n.T("An image is a directory", "이미지는 디렉터리다"),
			Explain: i18n.T(
				"The built-in root filesystem is in the image store as an image, stepbox-builtin ($LAYER below is its layer's directory): one tar file, unpacked once into a directory. The lab's container now starts on it the way `stepbox run` does. Its init mounts an overlay as the container's root, with the image's layer as the read-only lower directory and an empty upper directory of the container's own, in the container's mount namespace only. Inside, / shows the layer's files, and the root mount's type is overlay.",
				"내장 루트 파일 시스템은 이미지 저장소에 stepbox-builtin이라는 이미지로 들어 있습니다(아래의 $LAYER가 그 레이어의 디렉터리입니다). tar 파일 하나를 한 번 풀어 둔 디렉터리입니다. 실습 컨테이너는 이제 `stepbox run`처럼 이 이미지 위에서 시작합니다. 컨테이너의 init이 컨테이너의 마운트 네임스페이스 안에서만 overlay를 루트로 마운트합니다. 이미지의 레이어가 읽기 전용 아래층(lower) 디렉터리가 되고, 컨테이너만의 빈 디렉터리가 위층(upper)이 됩니다. 안에서 보면 /에는 레이어의 파일이 있고, 루트 마운트의 종류는 overlay입니다."),
			Syscalls: []Syscall{
				{"getdents64", 2, "LAYER"},
				{"mount", 2, `"overlay", ROOT, "overlay", 0, "lowerdir=LAYER,…"`},
			},
			Shell: "stepbox images\nstepbox image inspect stepbox-builtin | grep Dir\nls $LAYER",
			Apply: func(l *Lab) error {
				if err := l.UseImage(); err != nil {
					return err
				}
				if err := l.Ensure(); err != nil {
					return err
				}
				f, err := imageFacts(l)
				if err != nil {
					return err
				}
				l.Set("layer", f.Dirs[len(f.Dirs)-1])
				note(l, nImgLayer, strings.Join(topNames(f.Dirs[len(f.Dirs)-1]), " "))
				return nil
			},
			Probes: []Probe{{Host, imgLsLayer}, {Inside, imgLsRoot}},
			Rows: []Row{
				{
					Label: i18n.T("type of the / mount", "/ 마운트의 종류"),
					Host:  func(e *Evidence) string { return rootFS(e, true) },
					Box:   func(e *Evidence) string { return rootFS(e, false) },
				},
				{
					Label: i18n.T("names at the top (layer, /)", "맨 위의 이름 수(레이어, /)"),
					Host:  func(e *Evidence) string { return strconv.Itoa(len(strings.Fields(noted(e, nImgLayer)))) },
					Box: func(e *Evidence) string {
						return strconv.Itoa(len(strings.Fields(probeText(e, Inside, imgLsRoot))))
					},
				},
			},
			Expect: Expect{
				Text: i18n.T("the container's / is an overlay showing the layer's files",
					"컨테이너의 /는 레이어의 파일을 보여 주는 overlay다"),
				Check: func(e *Evidence) bool {
					layer := strings.Fields(noted(e, nImgLayer))
					inside := strings.Fields(probeText(e, Inside, imgLsRoot))
					if rootFS(e, false) != "overlay" || len(layer) == 0 {
						return false
					}
					for _, n := range layer {
						if !slices.Contains(inside, n) {
							return false
						}
					}
					return true
				},
			},
		},
		{
			Title: i18n.T("Two containers, one lower layer", "컨테이너 둘, 아래층 하나"),
			Explain: i18n.T(
				"A second container starts on the same image. The two do not get a copy each: both overlays stack the same lower directory. In a user namespace, as here, that directory is a copy of the layer made once for the namespace's range of ids, so that the files belong to the container's root; every container of that range shares it. stat(2) shows it: /bin/stepbox has the same inode number in the lower directory and in both containers (overlayfs reports a lower file's own inode when the layers share a filesystem). $PID and $PID2 are the two containers.",
				"두 번째 컨테이너가 같은 이미지로 시작합니다. 두 컨테이너가 사본을 하나씩 받는 것이 아니라, 두 overlay가 같은 아래층 디렉터리를 쌓습니다. 여기처럼 사용자 네임스페이스가 있으면 그 디렉터리는 네임스페이스의 id 범위에 맞춰 한 번 만들어 둔 레이어 사본이어서, 파일의 주인이 컨테이너의 root가 됩니다. 같은 범위의 컨테이너는 모두 이 사본을 함께 씁니다. stat(2)으로 확인할 수 있습니다. /bin/stepbox의 아이노드 번호가 아래층 디렉터리에서도, 두 컨테이너 안에서도 같습니다(레이어들이 한 파일 시스템에 있으면 overlayfs는 아래층 파일 자신의 아이노드를 보여 줍니다). $PID와 $PID2가 두 컨테이너입니다."),
			Syscalls: []Syscall{{"statx", 2, "LOWER/bin/stepbox, /proc/PID/root/bin/stepbox"}},
			Shell:    "stepbox run -d --name one stepbox-builtin sleep 1d\nstepbox run -d --name two stepbox-builtin sleep 1d\nstat -c %i $LOWER/bin/stepbox /proc/$PID/root/bin/stepbox \\\n  /proc/$PID2/root/bin/stepbox",
			Apply: func(l *Lab) error {
				if err := l.StartPeer(cloneSpec(l.Spec())); err != nil {
					return err
				}
				if err := l.Ensure(); err != nil {
					return err
				}
				f, err := imageFacts(l)
				if err != nil {
					return err
				}
				lower := holding(f.Lower, "bin")
				file, err := realPath(lower, "/bin/stepbox")
				if err != nil {
					return err
				}
				l.Set("lower", lower)
				l.Set("file", file)
				// Without overlays (the demo) the one shared directory is
				// where both write.
				l.Set("upper", l.SharedDir())
				l.Set("upper2", l.SharedDir())
				if r := l.ImageRootfs(); r != nil && r.Overlay != nil {
					l.Set("upper", r.Overlay.Upper)
				}
				if r := l.PeerImageRootfs(); r != nil && r.Overlay != nil {
					l.Set("upper2", r.Overlay.Upper)
				}
				return nil
			},
			Probes: []Probe{{Host, imgInodes}},
			Rows: []Row{
				{
					Label: i18n.T("inode of /bin/stepbox", "/bin/stepbox의 아이노드"),
					Host:  func(e *Evidence) string { return probeLine(e, Host, imgInodes, 0) },
					Box:   func(e *Evidence) string { return probeLine(e, Host, imgInodes, 1) },
				},
				{
					Label: i18n.T("… in the second container", "… 두 번째 컨테이너 안"),
					Host:  func(e *Evidence) string { return "-" },
					Box:   func(e *Evidence) string { return probeLine(e, Host, imgInodes, 2) },
				},
			},
			Expect: Expect{
				Text: i18n.T("both containers read the lower directory's very file",
					"두 컨테이너 모두 아래층 디렉터리의 바로 그 파일을 읽는다"),
				Check: func(e *Evidence) bool {
					a, b, c := probeLine(e, Host, imgInodes, 0), probeLine(e, Host, imgInodes, 1), probeLine(e, Host, imgInodes, 2)
					return probeOK(e, Host, imgInodes) && a != "" && a == b && b == c
				},
			},
		},
		{
			Title: i18n.T("Each container writes only its own layer", "컨테이너는 자기 레이어에만 쓴다"),
			Explain: i18n.T(
				"The first container adds a user to /etc/passwd and writes /note; the second writes a /note of its own. A write to a lower file first copies it up: overlayfs copies /etc/passwd into the writer's upper directory and changes the copy. The host sees both upper directories ($UPPER and $UPPER2) holding exactly what each container wrote, the lower /etc/passwd keeps its inode and its checksum, and the second container still reads the image's /etc/passwd.",
				"첫 번째 컨테이너는 /etc/passwd에 사용자를 하나 더하고 /note를 씁니다. 두 번째 컨테이너도 자기 /note를 씁니다. 아래층 파일에 쓰면 먼저 복사가 일어납니다(copy-up). overlayfs가 /etc/passwd를 쓰는 쪽의 위층 디렉터리로 복사하고, 그 사본을 고칩니다. 호스트에서 보면 두 위층 디렉터리($UPPER와 $UPPER2)에는 각 컨테이너가 쓴 것만 정확히 들어 있고, 아래층의 /etc/passwd는 아이노드도 체크섬도 그대로이며, 두 번째 컨테이너는 여전히 이미지의 /etc/passwd를 읽습니다."),
			Syscalls: []Syscall{{"openat", 2, `"/etc/passwd", O_WRONLY|O_APPEND`}, {"copy_file_range", 2, "LOWER/etc/passwd → UPPER/etc/passwd"}},
			Shell:    "echo '" + imgNewUser + "' >> /etc/passwd   # in one\necho one > /note   # in one\necho two > /note   # in two\nls $UPPER $UPPER2",
			Apply: func(l *Lab) error {
				lower := l.Var("lower")
				note(l, nImgBefore, factsOf(filepath.Join(lower, "etc/passwd")).String())
				if _, err := insideOK(l, "echo '"+imgNewUser+"' >> /etc/passwd && echo one > /note"); err != nil {
					return err
				}
				if out, err := l.PeerInside("echo two > /note && tail -n 1 /etc/passwd"); err != nil {
					return err
				} else {
					note(l, nImgPeerLast, strings.TrimSpace(out.Output))
				}
				note(l, nImgAfter, factsOf(filepath.Join(lower, "etc/passwd")).String())
				note(l, nImgUpper1, strings.Join(upperNames(l.Var("upper")), " "))
				note(l, nImgUpper2, strings.Join(upperNames(l.Var("upper2")), " "))
				return nil
			},
			Probes: []Probe{{Host, imgUppers}, {Inside, imgTailIn}, {Host, imgTailOut}},
			Rows: []Row{
				hostRow(i18n.T("upper of this container", "이 컨테이너의 위층"), func(e *Evidence) string { return dashIfEmpty(noted(e, nImgUpper1)) }),
				hostRow(i18n.T("upper of the second", "두 번째 컨테이너의 위층"), func(e *Evidence) string { return dashIfEmpty(noted(e, nImgUpper2)) }),
				{
					Label: i18n.T("last line of /etc/passwd", "/etc/passwd의 마지막 줄"),
					Host:  func(e *Evidence) string { return probeText(e, Host, imgTailOut) },
					Box:   func(e *Evidence) string { return probeText(e, Inside, imgTailIn) },
				},
				{
					Label: i18n.T("… in the second container", "… 두 번째 컨테이너 안"),
					Host:  func(e *Evidence) string { return "-" },
					Box:   func(e *Evidence) string { return noted(e, nImgPeerLast) },
				},
				hostRow(i18n.T("lower /etc/passwd: inode, SHA-256", "아래층 /etc/passwd: 아이노드, SHA-256"), func(e *Evidence) string { return noted(e, nImgAfter) }),
			},
			Expect: Expect{
				Text: i18n.T("each upper holds only its container's writes; the lower file is unchanged",
					"위층마다 제 컨테이너가 쓴 것만 있고, 아래층 파일은 그대로다"),
				Check: func(e *Evidence) bool {
					u1, u2 := strings.Fields(noted(e, nImgUpper1)), strings.Fields(noted(e, nImgUpper2))
					before, after := noted(e, nImgBefore), noted(e, nImgAfter)
					return slices.Equal(u1, []string{"etc/passwd", "note"}) && slices.Equal(u2, []string{"note"}) &&
						before != "-" && before == after && probeText(e, Inside, imgTailIn) == imgNewUser &&
						noted(e, nImgPeerLast) == probeText(e, Host, imgTailOut)
				},
			},
		},
		{
			Title: i18n.T("A deleted file is a whiteout", "지운 파일은 화이트아웃이 된다"),
			Explain: i18n.T(
				"The first container deletes /etc/group. The file is in the lower directory, which must not change, so overlayfs records the deletion in the upper one instead: a whiteout, a character device with device number 0/0 named like the file. It hides the lower file from this container only. The layer keeps /etc/group, and the second container still sees it.",
				"첫 번째 컨테이너가 /etc/group을 지웁니다. 이 파일은 바뀌면 안 되는 아래층 디렉터리에 있으므로, overlayfs는 삭제를 위층에 대신 기록합니다. 화이트아웃이라고 하는데, 파일과 이름이 같고 장치 번호가 0/0인 문자 장치입니다. 화이트아웃은 이 컨테이너에게만 아래층 파일을 가립니다. 레이어에는 /etc/group이 그대로 있고, 두 번째 컨테이너에게도 여전히 보입니다."),
			Syscalls: []Syscall{{"unlinkat", 2, `"/etc/group"`}, {"mknod", 2, "UPPER/etc/group, S_IFCHR, makedev(0, 0)"}},
			Shell:    "rm /etc/group   # in one\nls -l $UPPER/etc",
			Apply: func(l *Lab) error {
				if _, err := insideOK(l, "rm /etc/group"); err != nil {
					return err
				}
				note(l, nImgWhiteout, yesNo(isWhiteoutAt(filepath.Join(l.Var("upper"), "etc/group"))))
				_, err := os.Lstat(filepath.Join(l.Var("lower"), "etc/group"))
				note(l, nImgKept, yesNo(err == nil))
				out, err := l.PeerInside(imgGroupIn)
				if err != nil {
					return err
				}
				note(l, nImgPeerSees, yesNo(out.Code == 0))
				return nil
			},
			Probes: []Probe{{Host, imgWhiteout}, {Inside, imgGroupIn}},
			Rows: []Row{
				hostRow(i18n.T("upper's etc/group (type, device)", "위층의 etc/group(종류, 장치 번호)"), func(e *Evidence) string { return present(noted(e, nImgWhiteout), "c 0,0") }),
				{
					Label: i18n.T("/etc/group", "/etc/group"),
					Host:  func(e *Evidence) string { return present(noted(e, nImgKept), "/etc/group") },
					Box:   func(e *Evidence) string { return present(yesNo(probeOK(e, Inside, imgGroupIn)), "/etc/group") },
				},
				{
					Label: i18n.T("… in the second container", "… 두 번째 컨테이너 안"),
					Host:  func(e *Evidence) string { return "-" },
					Box:   func(e *Evidence) string { return present(noted(e, nImgPeerSees), "/etc/group") },
				},
			},
			Expect: Expect{
				Text: i18n.T("a 0/0 device hides the file in this container only",
					"장치 번호 0/0인 파일이 이 컨테이너에게만 파일을 가린다"),
				Check: func(e *Evidence) bool {
					return noted(e, nImgWhiteout) == "yes" && noted(e, nImgKept) == "yes" &&
						noted(e, nImgPeerSees) == "yes" && !probeOK(e, Inside, imgGroupIn)
				},
			},
		},
		{
			Title: i18n.T("commit: the upper becomes a layer", "commit: 위층이 레이어가 된다"),
			Explain: i18n.T(
				"`stepbox commit` freezes the container (the cgroup freezer), writes its upper directory out as a tar, and makes a new image: the old image's layers plus this one on top. In the tar the whiteout becomes the OCI image spec's form, an empty file named .wh.group. history shows the new layer with the commit's message; a container of the new image has the user and lacks /etc/group.",
				"`stepbox commit`은 컨테이너를 cgroup freezer로 잠시 멈추고, 위층 디렉터리를 tar로 써서 새 이미지를 만듭니다. 옛 이미지의 레이어에 이 레이어 하나를 더 얹은 것입니다. tar 안에서 화이트아웃은 OCI 이미지 규격의 형태, 곧 .wh.group이라는 빈 파일이 됩니다. history는 새 레이어를 commit 메시지와 함께 보여 주고, 새 이미지로 띄운 컨테이너에는 그 사용자가 있고 /etc/group은 없습니다."),
			Syscalls: []Syscall{{"write", 2, "freezer.state FROZEN (v1) | cgroup.freeze 1 (v2)"}, {"getdents64", 2, "UPPER"}},
			Shell:    "stepbox commit -m '" + imgCommitMessage + "' one lesson/commit\nstepbox history lesson/commit",
			Apply: func(l *Lab) error {
				s, err := l.Store()
				if err != nil {
					return err
				}
				f, err := imageFacts(l)
				if err != nil {
					return err
				}
				ref := "stepbox-lesson/commit:" + strconv.Itoa(os.Getpid())
				l.Set("commit", ref)
				img, err := imagefs.Commit(l.Container(), ref, imagefs.CommitOptions{Message: imgCommitMessage, Pause: true})
				if err != nil {
					// No layer of its own (the demo): nothing to commit.
					note(l, nImgLayers, fmt.Sprintf("%d -", len(f.Dirs)))
					note(l, nImgComment, "-")
					return nil
				}
				l.Defer(func() error {
					_, err := s.Remove(string(img.ID), true)
					return err
				})
				layers := s.Layers(img)
				note(l, nImgLayers, fmt.Sprintf("%d %d", len(f.Dirs), len(layers)))
				top, err := layerEntries(layers[len(layers)-1].Blob)
				if err != nil {
					return err
				}
				var shown []string
				for _, n := range top {
					if n == "etc/.wh.group" || n == "etc/passwd" || n == "note" {
						shown = append(shown, n)
					}
				}
				note(l, nImgTop, strings.Join(shown, " "))
				if h := s.History(img); len(h) > 0 {
					note(l, nImgComment, h[0].Comment)
				}
				return nil
			},
			Probes: []Probe{{Host, imgHistory}},
			Rows: []Row{
				hostRow(i18n.T("layers of the image", "이미지의 레이어 수"), func(e *Evidence) string { return field(noted(e, nImgLayers), 0) }),
				hostRow(i18n.T("layers of the commit", "commit한 이미지의 레이어 수"), func(e *Evidence) string { return field(noted(e, nImgLayers), 1) }),
				hostRow(i18n.T("the new layer holds", "새 레이어의 내용"), func(e *Evidence) string { return dashIfEmpty(noted(e, nImgTop)) }),
			},
			Expect: Expect{
				Text: i18n.T("one layer more, with the change, the whiteout and the message",
					"레이어가 하나 늘고, 거기 바뀐 파일과 화이트아웃과 메시지가 있다"),
				Check: func(e *Evidence) bool {
					n := strings.Fields(noted(e, nImgLayers))
					if len(n) != 2 {
						return false
					}
					a, err1 := strconv.Atoi(n[0])
					b, err2 := strconv.Atoi(n[1])
					return err1 == nil && err2 == nil && b == a+1 &&
						noted(e, nImgTop) == "etc/.wh.group etc/passwd note" && noted(e, nImgComment) == imgCommitMessage
				},
			},
		},
		{
			Title: i18n.T("save: files named by their digests", "save: 다이제스트로 이름 붙인 파일들"),
			Explain: i18n.T(
				"`stepbox save` writes the image as docker save does: a tar of its config, its layer tars, and manifest.json, which lists them. Every file is named by the SHA-256 of its content, so the lesson can check the archive without trusting it: the config's digest is the image's ID, each layer file's digest is its name, and the digest of each layer's uncompressed tar is the diff ID the config lists for it. A registry stores and checks images the same way.",
				"`stepbox save`는 docker save처럼 이미지를 씁니다. 설정(config) 하나, 레이어 tar들, 그리고 그것들을 나열하는 manifest.json을 tar 하나에 담습니다. 모든 파일은 내용의 SHA-256으로 이름이 붙어 있어서, 레이어를 믿지 않고도 묶음을 검사할 수 있습니다. 설정의 다이제스트가 곧 이미지 ID이고, 레이어 파일마다 다이제스트가 곧 이름이며, 압축을 푼 레이어 tar의 다이제스트는 설정에 적힌 그 레이어의 diff ID와 같습니다. 레지스트리도 이미지를 이렇게 저장하고 검사합니다."),
			Syscalls: []Syscall{{"write", 2, "IMAGE.tar"}},
			Shell:    "stepbox save -o image.tar lesson/commit\ntar -tf image.tar\ntar -xOf image.tar manifest.json",
			Apply: func(l *Lab) error {
				s, err := l.Store()
				if err != nil {
					return err
				}
				ref := l.Var("commit")
				img, err := s.Get(ref)
				if err != nil {
					// Nothing was committed (the demo): the image itself.
					if ref, err = l.Image(); err != nil {
						return err
					}
					if img, err = s.Get(ref); err != nil {
						return err
					}
				}
				f, err := os.CreateTemp("", "stepbox-lesson-save-*.tar")
				if err != nil {
					return err
				}
				l.Defer(func() error { return os.Remove(f.Name()) })
				err = s.Save(f, []string{string(img.ID)}, image.SaveOptions{Format: image.FormatDocker})
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return err
				}
				l.Set("save", f.Name())
				sf, err := readSaved(f.Name(), string(img.ID))
				if err != nil {
					return err
				}
				note(l, nImgSaved, fmt.Sprintf("%s %s %d %d %d %s", yesNo(sf.ConfigOK), sf.ConfigSum[:12], len(sf.Layers), sf.LayersOK, sf.DiffIDs, image.ShortID(img.ID)))
				return nil
			},
			Probes: []Probe{{Host, imgSaveList}, {Host, imgManifest}},
			Rows: []Row{
				hostRow(i18n.T("SHA-256 of the config", "config의 SHA-256"), func(e *Evidence) string { return field(noted(e, nImgSaved), 1) + "…" }),
				hostRow(i18n.T("the image's ID", "이미지 ID"), func(e *Evidence) string { return field(noted(e, nImgSaved), 5) + "…" }),
				hostRow(i18n.T("layers matching their digests", "다이제스트가 맞는 레이어"), func(e *Evidence) string { return field(noted(e, nImgSaved), 3) + "/" + field(noted(e, nImgSaved), 2) }),
			},
			Expect: Expect{
				Text: i18n.T("the config and every layer match their digests", "config와 모든 레이어가 다이제스트와 일치한다"),
				Check: func(e *Evidence) bool {
					f := strings.Fields(noted(e, nImgSaved))
					return len(f) == 6 && f[0] == "yes" && f[2] != "0" && f[2] == f[3] && f[3] == f[4]
				},
			},
		},
	},
	Demo: Demo{
		Feature: "overlay",
		Explain: i18n.T(
			"Without overlayfs both containers run in one plain copy of the image, as every container ran in the built-in root filesystem before this lesson (here a copy on a tmpfs of the demo's throwaway namespace). There is no lower and no upper: the files are not the layer's, what one container writes or deletes the other sees at once, and there is no layer of its own to commit.",
			"overlayfs가 없으면 두 컨테이너는 이미지의 평범한 사본 하나에서 함께 돕니다. 이 레슨 전까지 모든 컨테이너가 내장 루트 파일 시스템 하나에서 돌았던 것과 같습니다(여기서는 데모의 일회용 네임스페이스에 있는 tmpfs 위의 사본입니다). 아래층도 위층도 없습니다. 파일은 레이어의 것이 아니고, 한 컨테이너가 쓰거나 지운 것을 다른 컨테이너가 곧바로 보며, commit할 자기 레이어도 없습니다."),
		Setup: func(l *Lab) { l.ShareImage() },
		Fails: []int{1, 2, 3, 4, 5},
	},
	Exercises: imagesExercises,
	Outro: i18n.T(
		"An image is files in layers, named by their digests; a container is the image's layers, shared and never written, under one writable layer of its own. `stepbox export`, `diff` and `commit` read that layer; `stepbox rm` removes it.",
		"이미지는 다이제스트로 이름 붙인 레이어들의 파일이고, 컨테이너는 함께 쓰되 절대 쓰지 않는 이미지의 레이어들 위에 자기만의 쓰기 레이어 하나를 얹은 것입니다. `stepbox export`, `diff`, `commit`은 그 레이어를 읽고, `stepbox rm`은 그것을 지웁니다."),
}

// rootFS is the filesystem type of / on the host or in the container.
func rootFS(e *Evidence, host bool) string {
	s := e.Inside
	if host {
		s = e.Host
	}
	m, ok := rootMount(s)
	if !ok {
		return "?"
	}
	return m.FSType
}

// present shows a fact that is there or not without words: what, or "-".
func present(yes, what string) string {
	if yes == "yes" {
		return what
	}
	return "-"
}

// field is word i of s, "-" when it has none.
func field(s string, i int) string {
	f := strings.Fields(s)
	if i < len(f) {
		return f[i]
	}
	return "-"
}
