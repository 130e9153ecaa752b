package lessons

import (
	"github.com/stepbox/stepbox/internal/i18n"
	"github.com/stepbox/stepbox/nsinspect"
	"github.com/stepbox/stepbox/sandbox"
)

// The exercises of lesson 11 (security).
var securityExercises = []*Exercise{exSecurityNoAdmin, exSecurityContainer}

var exSecurityNoAdmin = &Exercise{
	Title: i18n.T("Root without CAP_SYS_ADMIN", "CAP_SYS_ADMIN 없는 root"),
	Task: i18n.T(
		"Start a process that runs as root (uid 0) but holds no CAP_SYS_ADMIN, neither in its effective set nor in its bounding set, so that it cannot get it back by executing anything (a setuid program included). Use setpriv or capsh. Leave it running.",
		"root(uid 0)로 돌지만 CAP_SYS_ADMIN을 유효 집합에도, 바운딩 집합에도 갖지 않아서 무엇을 실행해도(setuid 프로그램이라도) 되찾을 수 없는 프로세스를 띄우세요. setpriv나 capsh를 쓰세요. 계속 돌게 두세요."),
	Needs: []string{"setpriv", "sleep"},
	Hints: []i18n.Text{
		i18n.T("capabilities(7): at execve a root process gets as permitted and effective every capability of its bounding set. Whatever is dropped from the bounding set never comes back.",
			"capabilities(7): execve 때 root 프로세스는 바운딩 집합에 있는 케이퍼빌리티를 모두 허용·유효 집합으로 받습니다. 바운딩 집합에서 뺀 것은 다시 돌아오지 않습니다."),
		i18n.T("setpriv --bounding-set=-sys_admin COMMAND drops it from the bounding set before COMMAND is executed; grep Cap /proc/PID/status and capsh --decode show the sets.",
			"setpriv --bounding-set=-sys_admin 명령은 명령을 실행하기 전에 바운딩 집합에서 그것을 뺍니다. grep Cap /proc/PID/status와 capsh --decode로 집합을 볼 수 있습니다."),
	},
	Answer: "setpriv --bounding-set=-sys_admin sleep 1000 &",
	Check: func(s *Scene) Verdict {
		var last Verdict
		for _, p := range s.Workers() {
			st := p.Snapshot().Status
			eff, bnd := st.Caps.Effective.Has("CAP_SYS_ADMIN"), st.Caps.Bounding.Has("CAP_SYS_ADMIN")
			seen := tf("%s: uid %d, %d effective capabilities, %d in its bounding set", "%s: uid %d, 유효 케이퍼빌리티 %d개, 바운딩 집합 %d개", p, st.UID.Effective, len(st.Caps.Effective.Names), len(st.Caps.Bounding.Names))
			switch {
			case st.UID.Effective != 0:
				if last.Key == "" {
					last = Verdict{Key: "not-root", Seen: []i18n.Text{seen},
						Wrong: tf("%s is not root: the task is root without the capability", "%s 프로세스는 root가 아닙니다. 과제는 그 케이퍼빌리티 없는 root입니다", p),
						Hint:  i18n.T("Keep uid 0 and take the capability away instead: setpriv --bounding-set=-sys_admin.", "uid 0은 그대로 두고 케이퍼빌리티를 빼세요: setpriv --bounding-set=-sys_admin."),
					}
				}
			case !eff && !bnd:
				return Verdict{OK: true, Seen: []i18n.Text{seen,
					i18n.T("cap_sys_admin is in neither set: mount(2), sethostname(2) and the rest are refused, and no execve brings it back", "cap_sys_admin이 어느 집합에도 없습니다. mount(2), sethostname(2) 등은 거절되고, 어떤 execve로도 되돌아오지 않습니다")}}
			case eff:
				last = Verdict{Key: "effective", Seen: []i18n.Text{seen},
					Wrong: tf("%s still holds cap_sys_admin in its effective set", "%s 프로세스는 아직 유효 집합에 cap_sys_admin을 가졌습니다", p),
					Hint:  i18n.T("The inheritable set takes nothing from root at execve; the bounding set does: setpriv --bounding-set=-sys_admin.", "상속 집합을 바꿔도 execve 때 root에게서 빼앗는 것은 없습니다. 바운딩 집합이 합니다: setpriv --bounding-set=-sys_admin."),
				}
			default:
				last = Verdict{Key: "bounding", Seen: []i18n.Text{seen},
					Wrong: tf("cap_sys_admin is out of %s's effective set but still in its bounding set: executing a program gives it back", "cap_sys_admin이 %s 프로세스의 유효 집합에서는 빠졌지만 바운딩 집합에는 남아 있습니다. 프로그램을 실행하면 되돌아옵니다", p),
					Hint:  i18n.T("Drop it from the bounding set: setpriv --bounding-set=-sys_admin.", "바운딩 집합에서 빼세요: setpriv --bounding-set=-sys_admin."),
				}
			}
		}
		if last.Key != "" {
			return last
		}
		return nothing(s, "no-process",
			i18n.T("no process of yours runs but shells", "셸 말고 돌고 있는 내 프로세스가 없습니다"),
			i18n.T("setpriv --bounding-set=-sys_admin sleep 1000 & starts one.", "setpriv --bounding-set=-sys_admin sleep 1000 & 으로 하나 띄우세요."))
	},
}

// container finds the running container called name under the session's
// --root, and its payload's snapshot.
func container(s *Scene, name string) (sandbox.State, *nsinspect.Snapshot, Verdict, bool) {
	for _, st := range s.Containers() {
		if st.Name != name {
			continue
		}
		if st.Status != sandbox.Running {
			return st, nil, Verdict{Key: "stopped",
				Seen:  []i18n.Text{tf("container %s is %s", "컨테이너 %s의 상태는 %s입니다", name, st.Status)},
				Wrong: tf("%s does not run", "%s 컨테이너가 돌고 있지 않습니다", name),
				Hint:  tf("Remove it (stepbox rm -f %s) and run it again, detached (-d), with a command that stays, such as sleep 1000.", "지우고(stepbox rm -f %s) sleep 1000처럼 계속 도는 명령으로 다시 떼어 놓고(-d) 돌리세요.", name),
			}, false
		}
		snap, err := nsinspect.Take(st.PayloadPid())
		if err != nil {
			break
		}
		return st, &snap, Verdict{}, true
	}
	return sandbox.State{}, nil, Verdict{Key: "no-container",
		Seen:  []i18n.Text{tf("%d containers under this exercise's --root", "이 연습 문제의 --root 아래에 컨테이너 %d개", len(s.Containers()))},
		Wrong: tf("no running container is called %s", "이름이 %s인 돌고 있는 컨테이너가 없습니다", name),
		Hint:  tf("stepbox run -d --name %s … -- sleep 1000 runs one in the background; stepbox ps lists them.", "stepbox run -d --name %s … -- sleep 1000 으로 백그라운드에서 하나 돌리세요. stepbox ps가 목록을 보여 줍니다.", name),
	}, false
}

var exSecurityContainer = &Exercise{
	Title: i18n.T("A container whose root may not mount", "root가 마운트할 수 없는 컨테이너"),
	Task: i18n.T(
		"Run a detached container named web with stepbox, as docker would start it, with a command that stays (sleep 1000): its process must be root inside without CAP_SYS_ADMIN, under a seccomp filter, with no_new_privs. The check reads them from its process's /proc/PID/status.",
		"stepbox로 web이라는 이름의 컨테이너를 docker가 띄우듯 떼어 놓고(detached) 계속 도는 명령(sleep 1000)으로 돌리세요. 그 프로세스는 안에서 root이지만 CAP_SYS_ADMIN이 없고, seccomp 필터 아래에 있으며, no_new_privs가 켜져 있어야 합니다. 검사는 그 프로세스의 /proc/PID/status에서 이것들을 읽습니다."),
	Needs: []string{"stepbox"},
	Hints: []i18n.Text{
		i18n.T("stepbox run's defaults are docker's for a container that is not privileged: 14 capabilities, docker's seccomp profile, and no_new_privs. stepbox inspect web shows them.",
			"stepbox run의 기본값은 특권 없는 컨테이너에 대한 docker의 것과 같습니다. 케이퍼빌리티 14개, docker의 seccomp 프로필, no_new_privs입니다. stepbox inspect web으로 볼 수 있습니다."),
	},
	Answer: "stepbox run -d --name web -- sleep 1000",
	Check: func(s *Scene) Verdict {
		_, snap, v, ok := container(s, "web")
		if !ok {
			return v
		}
		st := snap.Status
		seen := tf("web's process %d: %d effective capabilities, seccomp mode %d, no_new_privs %d", "web의 프로세스 %d: 유효 케이퍼빌리티 %d개, seccomp 모드 %d, no_new_privs %d", snap.PID, len(st.Caps.Effective.Names), st.Seccomp, st.NoNewPrivs)
		switch {
		case st.Caps.Effective.Has("CAP_SYS_ADMIN") || st.Caps.Bounding.Has("CAP_SYS_ADMIN"):
			return Verdict{Key: "privileged", Seen: []i18n.Text{seen},
				Wrong: i18n.T("web's root holds CAP_SYS_ADMIN: it may mount, and much else", "web의 root가 CAP_SYS_ADMIN을 가졌습니다. 마운트를 비롯해 많은 것을 할 수 있습니다"),
				Hint:  i18n.T("Leave --privileged and --cap-add SYS_ADMIN out: stepbox rm -f web, then run it again with the defaults.", "--privileged와 --cap-add SYS_ADMIN을 빼세요. stepbox rm -f web 한 다음 기본값으로 다시 돌리세요."),
			}
		case st.Seccomp != 2:
			return Verdict{Key: "unconfined", Seen: []i18n.Text{seen},
				Wrong: i18n.T("web has no seccomp filter: every system call reaches the kernel", "web에 seccomp 필터가 없습니다. 모든 시스템 콜이 커널까지 갑니다"),
				Hint:  i18n.T("Leave --security-opt seccomp=unconfined out: stepbox rm -f web, then run it again.", "--security-opt seccomp=unconfined를 빼세요. stepbox rm -f web 한 다음 다시 돌리세요."),
			}
		case st.NoNewPrivs != 1:
			return Verdict{Key: "new-privs", Seen: []i18n.Text{seen},
				Wrong: i18n.T("web's process may gain privileges by executing a setuid program (no_new_privs is off)", "web의 프로세스는 setuid 프로그램을 실행해 권한을 얻을 수 있습니다(no_new_privs가 꺼져 있습니다)"),
				Hint:  i18n.T("Leave --security-opt no-new-privileges=false out.", "--security-opt no-new-privileges=false를 빼세요."),
			}
		}
		return Verdict{OK: true, Seen: []i18n.Text{seen,
			i18n.T("no CAP_SYS_ADMIN, a seccomp filter, no_new_privs: docker's defaults for a container that is not privileged", "CAP_SYS_ADMIN 없음, seccomp 필터, no_new_privs: 특권 없는 컨테이너에 대한 docker의 기본값입니다")}}
	},
}
