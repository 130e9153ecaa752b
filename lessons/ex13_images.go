package lessons

import (
	"os"
	"path/filepath"
	"slices"

	digest "github.com/opencontainers/go-digest"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/image"
)

// The exercises of lesson 13 (images and layers), done with stepbox: the
// containers and images live under the session's own --root, and the
// checks read the runtime's records and the image store there, as
// `stepbox ps`, `diff` and `history` do.
var imagesExercises = []*Exercise{exImagesUpper, exImagesWhiteout}

// sessionStore is the image store under the exercise's --root.
func sessionStore(s *Scene) (*image.Store, error) {
	return image.Open(filepath.Join(sandbox.DefaultPaths(s.Session.Root).Lib, "images"))
}

// exists reports whether p is there (a whiteout counts), not following a
// last link.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// overlayOf is the overlay of a running container named name, or a ✗.
func overlayOf(s *Scene, name string) (sandbox.State, Verdict, bool) {
	st, _, v, ok := container(s, name)
	if !ok {
		return st, v, false
	}
	if st.Image == nil || st.Image.Overlay == nil {
		return st, Verdict{Key: "no-image",
			Seen:  []i18n.Text{tf("container %s runs on a plain directory", "컨테이너 %s는 평범한 디렉터리 위에서 돕니다", name)},
			Wrong: tf("%s has no layer of its own over an image", "%s에는 이미지 위에 얹은 자기 레이어가 없습니다", name),
			Hint:  tf("Run it on the image, without --rootfs: stepbox rm -f %s, then stepbox run -d --name %s -- sleep 1000.", "--rootfs 없이 이미지로 돌리세요: stepbox rm -f %s 한 다음 stepbox run -d --name %s -- sleep 1000.", name, name),
		}, false
	}
	return st, Verdict{}, true
}

var exImagesUpper = &Exercise{
	Title: i18n.T("A file in one container's layer only", "한 컨테이너의 레이어에만 있는 파일"),
	Task: i18n.T(
		"Run two detached containers of the built-in image (stepbox-builtin, what stepbox run -- CMD runs on), named a and b, with a command that stays (sleep 1000). Write a file /hello in a, and only in a; then find it on the host in a's own layer with stepbox diff a. The check looks for /hello in a's upper directory, and wants it in neither b's nor the image's layers.",
		"내장 이미지(stepbox run -- CMD가 쓰는 stepbox-builtin)로 a와 b라는 컨테이너 두 개를 계속 도는 명령(sleep 1000)으로 떼어 놓고 돌리세요. a 안에만 /hello 파일을 쓰고, stepbox diff a로 호스트에서 a의 자기 레이어에 있는 그 파일을 찾아보세요. 검사는 a의 위층(upper) 디렉터리에서 /hello를 찾고, b의 레이어와 이미지의 레이어에는 없기를 바랍니다."),
	Needs: []string{"stepbox"},
	Hints: []i18n.Text{
		i18n.T("stepbox exec a sh -c 'echo hi > /hello' writes in a running container; a stepbox run of its own would write in a third container, whose layer goes with it.",
			"stepbox exec a sh -c 'echo hi > /hello'가 돌고 있는 컨테이너 안에 씁니다. stepbox run을 따로 하면 세 번째 컨테이너에 쓰게 되고, 그 레이어는 컨테이너와 함께 사라집니다."),
		i18n.T("stepbox diff a lists what a's layer holds (A added, C changed, D deleted); stepbox inspect a shows the upper directory itself.",
			"stepbox diff a가 a의 레이어에 든 것을 보여 줍니다(A 추가, C 변경, D 삭제). stepbox inspect a는 위층 디렉터리 자체를 보여 줍니다."),
	},
	Answer: "stepbox run -d --name a -- sleep 1000\nstepbox run -d --name b -- sleep 1000\nstepbox exec a sh -c 'echo hi > /hello'\nstepbox diff a",
	Check: func(s *Scene) Verdict {
		a, v, ok := overlayOf(s, "a")
		if !ok {
			return v
		}
		b, v, ok := overlayOf(s, "b")
		if !ok {
			return v
		}
		seen := tf("a and b run on image %s, each with a layer of its own", "a와 b는 이미지 %s 위에서 저마다 자기 레이어를 가지고 돕니다", image.ShortID(digest.Digest(a.Image.Image)))
		if a.Image.Image != b.Image.Image {
			return Verdict{Key: "two-images", Seen: []i18n.Text{tf("a runs on %s, b on %s", "a는 %s, b는 %s 이미지 위에서 돕니다", image.ShortID(digest.Digest(a.Image.Image)), image.ShortID(digest.Digest(b.Image.Image)))},
				Wrong: i18n.T("a and b run on different images", "a와 b가 서로 다른 이미지 위에서 돕니다"),
				Hint:  i18n.T("Run both of stepbox-builtin: stepbox rm -f b, then stepbox run -d --name b -- sleep 1000.", "둘 다 stepbox-builtin으로 돌리세요: stepbox rm -f b 한 다음 stepbox run -d --name b -- sleep 1000.")}
		}
		inA := exists(s.Path(filepath.Join(a.Image.Overlay.Upper, "hello")))
		inB := exists(s.Path(filepath.Join(b.Image.Overlay.Upper, "hello")))
		inImage := slices.ContainsFunc(a.Image.Overlay.Lower, func(d string) bool { return exists(s.Path(filepath.Join(d, "hello"))) })
		switch {
		case inImage:
			return Verdict{Key: "in-image", Seen: []i18n.Text{seen},
				Wrong: i18n.T("the image's own layer holds /hello: every container of it sees the file", "이미지 자신의 레이어에 /hello가 있어서, 그 이미지의 모든 컨테이너가 그 파일을 봅니다"),
				Hint:  i18n.T("Never write into the store's directories: write inside the container, with stepbox exec a.", "저장소의 디렉터리에는 절대 쓰지 마세요. stepbox exec a로 컨테이너 안에서 쓰세요.")}
		case inB:
			return Verdict{Key: "in-b", Seen: []i18n.Text{seen, i18n.T("b's upper directory holds hello", "b의 위층 디렉터리에 hello가 있습니다")},
				Wrong: i18n.T("/hello is in b's layer too: it should be a's alone", "/hello가 b의 레이어에도 있습니다. a에만 있어야 합니다"),
				Hint:  i18n.T("Start b again clean: stepbox rm -f b, then stepbox run -d --name b -- sleep 1000.", "b를 깨끗하게 다시 띄우세요: stepbox rm -f b 한 다음 stepbox run -d --name b -- sleep 1000.")}
		case !inA:
			return Verdict{Key: "not-in-a", Seen: []i18n.Text{seen, i18n.T("a's upper directory has no hello", "a의 위층 디렉터리에 hello가 없습니다")},
				Wrong: i18n.T("a's layer holds no /hello", "a의 레이어에 /hello가 없습니다"),
				Hint:  i18n.T("Write it inside a, the running container: stepbox exec a sh -c 'echo hi > /hello'. A new stepbox run writes into a container of its own.", "돌고 있는 컨테이너 a 안에서 쓰세요: stepbox exec a sh -c 'echo hi > /hello'. 새 stepbox run은 자기 컨테이너에 씁니다.")}
		}
		return Verdict{OK: true, Seen: []i18n.Text{seen,
			tf("hello is in a's upper directory %s", "hello는 a의 위층 디렉터리 %s에 있습니다", a.Image.Overlay.Upper),
			i18n.T("neither b's layer nor the image's has it", "b의 레이어에도 이미지의 레이어에도 없습니다")}}
	},
}

var exImagesWhiteout = &Exercise{
	Title: i18n.T("A layer that deletes a file", "파일을 지우는 레이어"),
	Task: i18n.T(
		"Make an image named gone whose last layer deletes /etc/group, a file of the layer below: delete it in a container of the built-in image (stepbox run -- CMD) and commit that container as gone. Then find the whiteout: stepbox history gone shows the layer, and stepbox save gone | tar -xO … shows its .wh. entry. The check reads the image's top layer in the store.",
		"마지막 레이어가 아래 레이어의 파일 /etc/group을 지우는 gone이라는 이미지를 만드세요. 내장 이미지의 컨테이너(stepbox run -- CMD) 안에서 그 파일을 지우고, 그 컨테이너를 gone으로 commit하면 됩니다. 그다음 화이트아웃을 찾아보세요. stepbox history gone이 레이어를 보여 주고, stepbox save gone | tar -xO …가 그 .wh. 항목을 보여 줍니다. 검사는 저장소에서 이미지의 맨 위 레이어를 읽습니다."),
	Needs: []string{"stepbox"},
	Hints: []i18n.Text{
		i18n.T("stepbox commit CONTAINER gone writes the container's own layer out as the new image's top layer; what the container deleted is a whiteout there.",
			"stepbox commit CONTAINER gone은 컨테이너의 자기 레이어를 새 이미지의 맨 위 레이어로 써냅니다. 컨테이너가 지운 것은 거기서 화이트아웃이 됩니다."),
		i18n.T("The OCI image spec writes a deleted file as an empty file named .wh. and the file's name: etc/.wh.group.",
			"OCI 이미지 규격은 지운 파일을 .wh.에 파일 이름을 붙인 빈 파일로 씁니다: etc/.wh.group."),
	},
	Answer: "stepbox run -d --name box -- sleep 1000\nstepbox exec box rm /etc/group\nstepbox commit box gone\nstepbox history gone",
	Check: func(s *Scene) Verdict {
		st, err := sessionStore(s)
		if err != nil {
			return Verdict{Key: "no-image", Wrong: tf("the image store cannot be read: %v", "이미지 저장소를 읽을 수 없습니다: %v", err),
				Hint: i18n.T("stepbox images lists the images of this exercise.", "stepbox images가 이 연습 문제의 이미지를 보여 줍니다.")}
		}
		img, err := st.Get("gone")
		if err != nil {
			list, _ := st.List()
			return Verdict{Key: "no-image", Seen: []i18n.Text{tf("%d images in this exercise's store", "이 연습 문제의 저장소에 이미지 %d개", len(list))},
				Wrong: i18n.T("there is no image named gone", "gone이라는 이미지가 없습니다"),
				Hint:  i18n.T("Delete the file in a running container, then stepbox commit CONTAINER gone.", "돌고 있는 컨테이너 안에서 파일을 지운 다음 stepbox commit CONTAINER gone 하세요.")}
		}
		layers := st.Layers(img)
		seen := tf("gone (%s) has %d layers", "gone(%s)에는 레이어가 %d개 있습니다", image.ShortID(img.ID), len(layers))
		if len(layers) < 2 {
			return Verdict{Key: "one-layer", Seen: []i18n.Text{seen},
				Wrong: i18n.T("gone has a single layer: nothing below it to delete from", "gone에는 레이어가 하나뿐이어서, 지울 아래 레이어가 없습니다"),
				Hint:  i18n.T("Commit a container of the built-in image (stepbox run -d --name box -- sleep 1000): the commit adds one layer over the image's.", "내장 이미지의 컨테이너(stepbox run -d --name box -- sleep 1000)를 commit하세요. commit은 이미지의 레이어 위에 레이어 하나를 더합니다.")}
		}
		top, err := layerEntries(layers[len(layers)-1].Blob)
		below := layers[len(layers)-2].Dir
		if err != nil || !slices.Contains(top, "etc/.wh.group") {
			return Verdict{Key: "no-whiteout", Seen: []i18n.Text{seen, tf("its top layer has %d entries, no etc/.wh.group", "맨 위 레이어에는 항목이 %d개 있고, etc/.wh.group은 없습니다", len(top))},
				Wrong: i18n.T("gone's top layer deletes nothing: /etc/group is still there", "gone의 맨 위 레이어는 아무것도 지우지 않습니다. /etc/group이 그대로 있습니다"),
				Hint:  i18n.T("Delete the file inside the container before the commit: stepbox exec box rm /etc/group, then stepbox rmi gone and commit again.", "commit 전에 컨테이너 안에서 파일을 지우세요: stepbox exec box rm /etc/group 한 다음 stepbox rmi gone 하고 다시 commit하세요.")}
		}
		if !exists(filepath.Join(below, "etc/group")) {
			return Verdict{Key: "not-below", Seen: []i18n.Text{seen, i18n.T("its top layer holds etc/.wh.group", "맨 위 레이어에 etc/.wh.group이 있습니다")},
				Wrong: i18n.T("the layer below has no /etc/group: the whiteout hides nothing", "아래 레이어에 /etc/group이 없어서 화이트아웃이 가리는 것이 없습니다"),
				Hint:  i18n.T("Start the container from stepbox-builtin, whose layer has /etc/group.", "/etc/group이 있는 stepbox-builtin 레이어로 컨테이너를 띄우세요.")}
		}
		return Verdict{OK: true, Seen: []i18n.Text{seen,
			tf("the layer below (%s) has etc/group", "아래 레이어(%s)에 etc/group이 있습니다", image.ShortID(layers[len(layers)-2].Digest)),
			tf("the top layer (%s) has etc/.wh.group, the whiteout that deletes it", "맨 위 레이어(%s)에 그것을 지우는 화이트아웃 etc/.wh.group이 있습니다", image.ShortID(layers[len(layers)-1].Digest))}}
	},
}
