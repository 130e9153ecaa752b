package lessons

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/security"
)

func init() { register(lessonSecurity) }

// The probes of the security lesson: stepbox's own (lessons/probe), which
// print each system call with the kernel's answer, so the checks read the
// errno. Each acts only on what the container owns (its mount, UTS, user
// and network namespaces), so that it is harmless even where it succeeds:
// in the privileged demo.
const (
	// probeMount mounts a tmpfs over the container's /tmp and takes it away.
	probeMount = "stepbox probe mount -t tmpfs none /tmp"
	// probeHostname sets the container's hostname to the one it has.
	probeHostname = "stepbox probe sethostname"
	// probeUnshare makes a user namespace, which needs no capability.
	probeUnshare = "stepbox probe unshare user"
	// probeSetuid runs a set-user-ID-root copy of stepbox as uid 65534
	// (nobody; no /etc/passwd entry needed): its ping opens a raw socket,
	// which needs root (CAP_NET_RAW), to the container's own loopback.
	probeSetuid = "stepbox probe as 65534 " + suidHelper + " probe ping -c1 127.0.0.1"
)

// suidHelper is where the set-user-ID-root copy of stepbox goes: a tmpfs
// of the container's own (mounted without nosuid), gone with the container.
const suidHelper = "/tmp/suid-stepbox"

// withSuidTmpfs gives the container a tmpfs at /tmp that honours the
// set-user-ID bit (AddTmpfs would add nosuid), with room for a copy of
// stepbox (14 MiB stripped, 19 MiB as the tests build it, since it speaks
// to registries).
func withSuidTmpfs(s *specs.Spec) {
	if slices.ContainsFunc(s.Mounts, func(m specs.Mount) bool { return m.Destination == "/tmp" }) {
		return
	}
	s.Mounts = append(s.Mounts, specs.Mount{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs",
		Options: []string{"nodev", "mode=1777", "size=64m"}})
}

// checkOf is the inspector's check id of the container against the host,
// as `stepbox inspect` reports it.
func checkOf(e *Evidence, id string) nsinspect.Check {
	for _, c := range nsinspect.Compare(e.Outside, e.Host) {
		if c.ID == id {
			return c
		}
	}
	return nsinspect.Check{ID: id, Status: nsinspect.Unknown, Target: "?", Reference: "?"}
}

// rowCheck shows an inspector check: the host's value, and the check's
// verdict with the container's value.
func rowCheck(id string) Row {
	return Row{
		Label: i18n.T(id, id),
		Host:  func(e *Evidence) string { return checkOf(e, id).Reference },
		Box: func(e *Evidence) string {
			c := checkOf(e, id)
			return string(c.Status) + ": " + c.Target
		},
	}
}

// rowTry shows how an inside probe ended.
func rowTry(label i18n.Text, cmd string) Row {
	return Row{
		Label: label,
		Host:  func(e *Evidence) string { return "-" },
		Box:   func(e *Evidence) string { return exitText(e.Probe(Inside, cmd)) },
	}
}

var lessonSecurity = &Lesson{
	ID:      "security",
	Title:   i18n.T("Security: what root inside may do", "보안: 안의 root가 할 수 있는 일"),
	Summary: i18n.T("docker's capabilities, seccomp and no_new_privs take root's powers away", "docker의 케이퍼빌리티, seccomp, no_new_privs로 root의 힘을 덜어 낸다"),
	Intro: i18n.T(
		"The container's root still holds every capability of its user namespace and may make any system call. Three locks take that away, as docker does for every container: a short list of capabilities (capabilities(7)), a seccomp filter that refuses system calls a container has no need for (seccomp(2)), and no_new_privs, which stops execve(2) from ever granting more (PR_SET_NO_NEW_PRIVS, prctl(2)).",
		"컨테이너의 root는 아직 자기 사용자 네임스페이스의 케이퍼빌리티를 모두 가지고 있고, 어떤 시스템 콜이든 부를 수 있습니다. docker는 모든 컨테이너에 자물쇠 세 개를 채워 이를 덜어 냅니다. 짧은 케이퍼빌리티 목록(capabilities(7)), 컨테이너에 필요 없는 시스템 콜을 거절하는 seccomp 필터(seccomp(2)), 그리고 execve(2)가 권한을 더는 늘려 주지 못하게 하는 no_new_privs(PR_SET_NO_NEW_PRIVS, prctl(2))입니다."),
	Needs: Needs{Inside: []string{"chmod", "cp", "grep", "ls", "stepbox"}},
	Steps: []Step{
		{
			Title: i18n.T("Before: root may do anything to what it owns", "시작: root는 자기 것에 무엇이든 할 수 있다"),
			Explain: i18n.T(
				"Inside its own namespaces root holds every capability: it may mount a filesystem and set the hostname, and no filter stands between it and the kernel. The inspector, comparing the container with the host as `stepbox inspect` does, sees no seccomp filter and no no_new_privs.",
				"자기 네임스페이스 안에서 root는 케이퍼빌리티를 모두 가집니다. 파일 시스템을 마운트하고 호스트 이름을 정할 수 있으며, 커널과의 사이를 가로막는 필터도 없습니다. `stepbox inspect`처럼 컨테이너를 호스트와 비교하는 검사기도 seccomp 필터와 no_new_privs가 없다고 봅니다."),
			Syscalls: []Syscall{{"mount", 2, `"none", "/tmp", "tmpfs"`}, {"sethostname", 2, ""}},
			Shell:    probeMount + "\n" + probeHostname,
			Probes:   []Probe{{Inside, probeMount}, {Inside, probeHostname}},
			Rows: []Row{rowCheck("caps.effective"), rowCheck("sec.seccomp"), rowCheck("sec.nnp"),
				rowTry(i18n.T("mount", "mount"), probeMount), rowTry(i18n.T("sethostname", "sethostname"), probeHostname)},
			Expect: Expect{
				Text: i18n.T("root mounts and sets the hostname", "root가 마운트하고 호스트 이름을 정한다"),
				Check: func(e *Evidence) bool {
					return e.Outside.Status.Caps.Effective.Has("CAP_SYS_ADMIN") &&
						succeeded(e.Probe(Inside, probeMount)) && succeeded(e.Probe(Inside, probeHostname))
				},
			},
		},
		{
			Title: i18n.T("Docker's capabilities: no CAP_SYS_ADMIN", "docker의 케이퍼빌리티: CAP_SYS_ADMIN 없음"),
			Explain: i18n.T(
				"The init keeps only docker's 14 capabilities in the bounding, permitted and effective sets (capset(2), and PR_CAPBSET_DROP for the rest). Root is still uid 0, but mount(2) and sethostname(2) need CAP_SYS_ADMIN and fail with EPERM. A user namespace, though, needs no capability at all: unshare -U still works.",
				"init은 docker의 케이퍼빌리티 14개만 bounding, permitted, effective 집합에 남깁니다(capset(2), 나머지는 PR_CAPBSET_DROP). root는 여전히 uid 0이지만 mount(2)와 sethostname(2)은 CAP_SYS_ADMIN이 필요하므로 EPERM으로 실패합니다. 그런데 사용자 네임스페이스는 케이퍼빌리티가 전혀 필요 없으므로 unshare -U는 여전히 됩니다."),
			Syscalls: []Syscall{{"prctl", 2, "PR_CAPBSET_DROP"}, {"capset", 2, "14 capabilities"}},
			Shell:    "docker run --cap-drop ALL --cap-add CHOWN … busybox\nsetpriv -d",
			Apply: func(l *Lab) error {
				l.Change(func(s *specs.Spec) { sandbox.SetCapabilities(s, security.DefaultCapabilities()) })
				return nil
			},
			Probes: []Probe{{Inside, probeMount}, {Inside, probeHostname}, {Inside, probeUnshare}},
			Rows: []Row{rowCheck("caps.effective"), rowCheck("caps.bounding"),
				rowTry(i18n.T("mount", "mount"), probeMount), rowTry(i18n.T("sethostname", "sethostname"), probeHostname),
				rowTry(i18n.T("unshare -U", "unshare -U"), probeUnshare)},
			Expect: Expect{
				Text: i18n.T("root without CAP_SYS_ADMIN cannot mount or set the hostname", "CAP_SYS_ADMIN 없는 root는 마운트도, 호스트 이름 변경도 못 한다"),
				Check: func(e *Evidence) bool {
					eff := e.Outside.Status.Caps.Effective
					return len(eff.Names) == len(security.DefaultCapabilities()) && !eff.Has("CAP_SYS_ADMIN") &&
						refusedWith(e.Probe(Inside, probeMount), "EPERM") && refusedWith(e.Probe(Inside, probeHostname), "EPERM") &&
						succeeded(e.Probe(Inside, probeUnshare))
				},
			},
		},
		{
			Title: i18n.T("seccomp: docker's default profile", "seccomp: docker의 기본 프로필"),
			Explain: i18n.T(
				"The runtime compiles docker's default profile, an allow-list of about 370 system calls, to a BPF program and loads it with seccomp(2). Any other call returns EPERM before the kernel even looks at it. unshare(2) is allowed only with CAP_SYS_ADMIN, which is gone: the user namespace the capabilities could not stop, the filter stops (keyctl, ptrace and the like too).",
				"런타임은 docker의 기본 프로필, 즉 약 370개 시스템 콜의 허용 목록을 BPF 프로그램으로 컴파일해 seccomp(2)로 올립니다. 그 밖의 호출은 커널이 살펴보기도 전에 EPERM을 돌려받습니다. unshare(2)는 CAP_SYS_ADMIN이 있을 때만 허용되는데 그것이 없으니, 케이퍼빌리티로 막지 못한 사용자 네임스페이스를 필터가 막습니다(keyctl, ptrace 같은 것도 마찬가지입니다)."),
			Syscalls: []Syscall{{"seccomp", 2, "SECCOMP_SET_MODE_FILTER"}, {"unshare", 2, "CLONE_NEWUSER → EPERM"}},
			Shell:    "docker run --security-opt seccomp=default.json …\ngrep Seccomp /proc/self/status",
			Apply: func(l *Lab) error {
				p, err := security.DefaultProfile(l.Spec())
				if err != nil {
					return err
				}
				l.Change(func(s *specs.Spec) { s.Linux.Seccomp = p })
				return nil
			},
			Probes: []Probe{{Inside, "grep Seccomp /proc/self/status"}, {Inside, probeUnshare}},
			Rows:   []Row{rowCheck("sec.seccomp"), rowTry(i18n.T("unshare -U", "unshare -U"), probeUnshare)},
			Expect: Expect{
				Text: i18n.T("a filter is on, and unshare fails with EPERM", "필터가 켜졌고, unshare는 EPERM으로 실패한다"),
				Check: func(e *Evidence) bool {
					return e.Outside.Status.Seccomp == 2 && refusedWith(e.Probe(Inside, probeUnshare), "EPERM")
				},
			},
		},
		{
			Title: i18n.T("no_new_privs: a setuid program gains nothing", "no_new_privs: setuid 프로그램도 얻는 것이 없다"),
			Explain: i18n.T(
				"Inside, root makes a set-user-ID-root copy of stepbox, in a tmpfs of the container's own, and nobody (uid 65534) runs its ping: a ping needs root for its raw socket. Without no_new_privs, execve(2) would make nobody root (euid 0) and the ping would go out. With prctl(PR_SET_NO_NEW_PRIVS) set before the payload starts, execve ignores the set-user-ID bit (and file capabilities) for good: euid stays 65534, and socket(2) is refused with EPERM.",
				"안에서 root가 컨테이너 자신의 tmpfs에 stepbox의 set-user-ID-root 복사본을 만들고, nobody(uid 65534)가 그 복사본으로 ping을 보냅니다. ping은 raw 소켓 때문에 root가 필요합니다. no_new_privs가 없으면 execve(2)가 nobody를 root(euid 0)로 만들어 ping이 나갈 것입니다. 페이로드가 시작되기 전에 prctl(PR_SET_NO_NEW_PRIVS)를 설정하면, execve는 set-user-ID 비트(와 파일 케이퍼빌리티)를 영영 무시합니다. euid는 65534 그대로이고, socket(2)은 EPERM으로 거절됩니다."),
			Syscalls: []Syscall{{"prctl", 2, "PR_SET_NO_NEW_PRIVS, 1"}, {"execve", 2, suidHelper + ", mode 4755"}},
			Shell: "cp $(command -v ping) /tmp/ping; chmod u+s /tmp/ping\n" +
				"setpriv --nnp --reuid 65534 --regid 65534 --clear-groups \\\n" +
				"  /tmp/ping -c1 127.0.0.1",
			Apply: func(l *Lab) error {
				l.Change(func(s *specs.Spec) {
					s.Process.NoNewPrivileges = true
					withSuidTmpfs(s)
				})
				out, err := l.Inside("cp /bin/stepbox " + suidHelper + " && chmod 4755 " + suidHelper)
				if err == nil && out.Code != 0 {
					return &stepError{what: "make the set-user-ID copy", out: out.Output}
				}
				return err
			},
			Probes: []Probe{{Inside, "ls -l " + suidHelper}, {Inside, probeSetuid}},
			Rows: []Row{rowCheck("sec.nnp"),
				rowTry(i18n.T("nobody: setuid ping", "nobody: setuid ping"), probeSetuid)},
			Expect: Expect{
				Text: i18n.T("no_new_privs is set, and the setuid ping is refused", "no_new_privs가 켜졌고, setuid ping은 거절된다"),
				Check: func(e *Evidence) bool {
					return e.Outside.Status.NoNewPrivs == 1 && refusedWith(e.Probe(Inside, probeSetuid), "EPERM")
				},
			},
		},
	},
	Demo: Demo{
		Feature: "hardening",
		Explain: i18n.T(
			"The same probes in a container run as with --privileged: every capability, no seccomp filter, no no_new_privs (its masked paths stay, to keep the demo harmless). Root mounts and renames its own namespaces again, unshare makes a user namespace, and the setuid copy makes nobody root.",
			"같은 검사를 --privileged처럼 띄운 컨테이너에서 합니다. 케이퍼빌리티는 전부, seccomp 필터도 no_new_privs도 없습니다(데모가 해롭지 않도록 가려 둔 경로는 그대로 둡니다). root는 다시 자기 네임스페이스에서 마운트하고 이름을 바꾸며, unshare는 사용자 네임스페이스를 만들고, setuid 복사본은 nobody를 root로 만듭니다."),
		Remove: func(s *specs.Spec, _ *sandbox.Options) {
			sandbox.SetCapabilities(s, security.AllCapabilities())
			s.Linux.Seccomp = nil
			s.Process.NoNewPrivileges = false
		},
		Fails: []int{2, 3, 4},
	},
	Exercises: securityExercises,
	Outro: i18n.T(
		"Root inside is now root of very little: few capabilities, a filtered kernel, no way up through execve. Last lesson: everything together, as `stepbox run` makes it.",
		"이제 안의 root가 다스리는 것은 아주 적습니다. 케이퍼빌리티는 몇 개뿐이고, 커널은 걸러지며, execve로 올라갈 길도 없습니다. 마지막 레슨에서는 `stepbox run`이 만드는 그대로, 모든 것을 합칩니다."),
	Keep: func(l *Lab) {
		l.Change(func(s *specs.Spec) {
			sandbox.SetCapabilities(s, security.DefaultCapabilities())
			if p, err := security.DefaultProfile(s); err == nil {
				s.Linux.Seccomp = p
			}
			s.Process.NoNewPrivileges = true
		})
	},
}

// stepError is an action of a step that ran and failed.
type stepError struct{ what, out string }

func (e *stepError) Error() string { return e.what + ": " + strings.TrimSpace(e.out) }
