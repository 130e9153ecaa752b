package nsinspect

import (
	"encoding/binary"
	"reflect"
	"testing"
)

func TestParseNSLink(t *testing.T) {
	typ, ino, err := ParseNSLink("pid_for_children:[4026531836]")
	if err != nil || typ != "pid_for_children" || ino != 4026531836 {
		t.Errorf("got %q %d %v", typ, ino, err)
	}
	for _, bad := range []string{"", "uts", "uts:", "uts:[]", "uts:[x]", ":[1]", "uts:[1"} {
		if _, _, err := ParseNSLink(bad); err == nil {
			t.Errorf("ParseNSLink(%q) accepted", bad)
		}
	}
}

func TestParseIDMap(t *testing.T) {
	got, err := ParseIDMap([]byte("         0       1000          1\n         1     100000      65536\n"))
	want := []IDMapRange{{0, 1000, 1}, {1, 100000, 65536}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, %v", got, err)
	}
	if out, ok := Outside(got, 5); !ok || out != 100004 {
		t.Errorf("Outside(5) = %d %v", out, ok)
	}
	if _, ok := Outside(got, 70000); ok {
		t.Error("Outside(70000) is mapped")
	}
	if s := FormatIDMap(got); s != "0→1000 (1), 1→100000 (65536)" {
		t.Errorf("FormatIDMap = %q", s)
	}
	if empty, err := ParseIDMap(nil); err != nil || len(empty) != 0 {
		t.Errorf("empty map = %v %v", empty, err)
	}
	for _, bad := range []string{"0 0", "0 0 x", "0 0 4294967296"} {
		if _, err := ParseIDMap([]byte(bad)); err == nil {
			t.Errorf("ParseIDMap(%q) accepted", bad)
		}
	}
}

func TestCapSet(t *testing.T) {
	all, err := ParseCapSet("000001ffffffffff")
	if err != nil || len(all.Names) != 41 || all.Names[40] != "CAP_CHECKPOINT_RESTORE" || capSummary(all) != "all 41" {
		t.Fatalf("all caps = %v %v", all, err)
	}
	for _, name := range []string{"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"} {
		if !all.Has(name) {
			t.Errorf("missing %s", name)
		}
	}
	future := CapSetOf(1<<41 | 1<<21)
	if !reflect.DeepEqual(future.Names, []string{"CAP_SYS_ADMIN", "CAP_41"}) || future.Hex != "0000020000200000" {
		t.Errorf("future caps = %+v", future)
	}
	if _, err := ParseCapSet("xyz"); err == nil {
		t.Error("bad hex accepted")
	}
}

func TestParseStatusMissingFields(t *testing.T) {
	// A 3.x kernel: no NSpid, NoNewPrivs, Seccomp_filters or CapAmb.
	s, err := ParseStatus([]byte("Name:\tsh\nPPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapInh:\t0\nCapPrm:\t0\nCapEff:\t0\nCapBnd:\tffffffff\nSeccomp:\t0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.NoNewPrivs != -1 || s.SeccompFilters != -1 || s.Seccomp != 0 || len(s.NSpid) != 0 {
		t.Errorf("absent fields not marked: %+v", s)
	}
	if _, err := ParseStatus([]byte("Name:\tsh\n")); err == nil {
		t.Error("status without Uid accepted")
	}
	if _, err := ParseStatus([]byte("Name:\tsh\nUid:\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\t0\nCapBnd:\t0\n")); err == nil {
		t.Error("three uids accepted")
	}
}

func TestParseCgroup(t *testing.T) {
	got, err := ParseCgroup([]byte("12:cpu,cpuacct:/a:b\n1:name=systemd:/\n0::/user.slice\n"))
	want := []CgroupEntry{
		{12, []string{"cpu", "cpuacct"}, "/a:b"},
		{1, []string{"name=systemd"}, "/"},
		{0, []string{}, "/user.slice"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, %v", got, err)
	}
	if !got[2].V2() || got[0].V2() {
		t.Error("V2 wrong")
	}
	if mainCgroup(got) != "/user.slice" {
		t.Errorf("mainCgroup = %q", mainCgroup(got))
	}
	for _, bad := range []string{"x::/", "1:/", "-1::/"} {
		if _, err := ParseCgroup([]byte(bad)); err == nil {
			t.Errorf("ParseCgroup(%q) accepted", bad)
		}
	}
}

func TestParseMountinfo(t *testing.T) {
	line := `36 35 98:0 /mnt1 /mnt\0402 rw,noatime shared:3 master:1 propagate_from:2 unbindable - ext3 /dev/root rw,errors=continue`
	ms, err := ParseMountinfo([]byte(line + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Mount{ID: 36, Parent: 35, Major: 98, Minor: 0, Root: "/mnt1", MountPoint: "/mnt 2",
		Options: "rw,noatime", Optional: []string{"shared:3", "master:1", "propagate_from:2", "unbindable"},
		Shared: 3, Master: 1, PropagateFrom: 2, Unbindable: true,
		FSType: "ext3", Source: "/dev/root", SuperOptions: "rw,errors=continue"}
	if !reflect.DeepEqual(ms[0], want) {
		t.Errorf("got  %+v\nwant %+v", ms[0], want)
	}
	if ms[0].Propagation() != "shared+slave" || ms[0].ReadOnly() {
		t.Error("propagation or ro wrong")
	}
	for in, out := range map[string]string{`a\040b`: "a b", `a\011b\012c\134d`: "a\tb\nc\\d", `x\04`: `x\04`, `\999`: `\999`} {
		if got := UnescapeMountField(in); got != out {
			t.Errorf("UnescapeMountField(%q) = %q, want %q", in, got, out)
		}
	}
	for _, bad := range []string{"1 2 3", "1 2 0:1 / / rw shared:1 ext4 /dev/x rw", "a 2 0:1 / / rw - ext4 x rw", "1 2 01 / / rw - ext4 x rw"} {
		if _, err := ParseMountinfo([]byte(bad)); err == nil {
			t.Errorf("ParseMountinfo(%q) accepted", bad)
		}
	}
}

func TestAt(t *testing.T) {
	ms := []Mount{{MountPoint: "/"}, {MountPoint: "/proc"}, {MountPoint: "/proc/sys", Options: "ro"}, {MountPoint: "/procfs"}}
	for path, want := range map[string]string{"/proc/sys/kernel": "/proc/sys", "/proc/sysrq-trigger": "/proc", "/procfs/x": "/procfs", "/etc": "/"} {
		if m, _ := At(ms, path); m.MountPoint != want {
			t.Errorf("At(%s) = %s, want %s", path, m.MountPoint, want)
		}
	}
}

func TestParseTimeOffsets(t *testing.T) {
	got, err := ParseTimeOffsets([]byte("monotonic      86400         0\n7 -5 100\n"))
	want := []ClockOffset{{"monotonic", 86400, 0}, {"boottime", -5, 100}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, %v", got, err)
	}
	if (TimeOffsets{Offsets: got}).Zero() {
		t.Error("Zero() on a shifted clock")
	}
}

func TestParseSysVIPC(t *testing.T) {
	shm := "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n" +
		"      1234          5   600                  4096   100   100      0  1000  1000  1000  1000          0          0 1700000000                     0                     0\n"
	got, err := ParseSysVIPC([]byte(shm))
	if err != nil || !reflect.DeepEqual(got, []IPCObject{{Key: 1234, ID: 5, Perms: "600", UID: 1000}}) {
		t.Errorf("got %+v, %v", got, err)
	}
	sem := "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n         0          3   666          1     0     0     0     0          0 1700000000\n"
	if got, err := ParseSysVIPC([]byte(sem)); err != nil || got[0].ID != 3 || got[0].UID != 0 {
		t.Errorf("sem: %+v %v", got, err)
	}
	if _, err := ParseSysVIPC([]byte("a b c\n1 2 3\n")); err == nil {
		t.Error("header without ids accepted")
	}
}

// nlMsg builds one netlink message: header, fixed payload, attributes.
func nlMsg(typ uint16, fixed []byte, attrs map[uint16][]byte) []byte {
	body := append([]byte{}, fixed...)
	for k := uint16(0); k < 16; k++ { // fixed order for a stable byte string
		v, ok := attrs[k]
		if !ok {
			continue
		}
		a := make([]byte, nlAlign(rtAttrHdrLen+len(v)))
		binary.NativeEndian.PutUint16(a[0:], uint16(rtAttrHdrLen+len(v)))
		binary.NativeEndian.PutUint16(a[2:], k)
		copy(a[4:], v)
		body = append(body, a...)
	}
	h := make([]byte, nlmsgHdrLen)
	binary.NativeEndian.PutUint32(h[0:], uint32(nlmsgHdrLen+len(body)))
	binary.NativeEndian.PutUint16(h[4:], typ)
	return append(h, body...)
}

func TestParseLinkDump(t *testing.T) {
	info := make([]byte, ifInfoMsgLen)
	binary.NativeEndian.PutUint32(info[4:], 1)
	binary.NativeEndian.PutUint32(info[8:], 0x8) // LOOPBACK, not UP
	mtu := make([]byte, 4)
	binary.NativeEndian.PutUint32(mtu, 65536)
	links := nlMsg(rtmNewLink, info, map[uint16][]byte{iflaIfname: []byte("lo\x00"), iflaMTU: mtu})
	addr := []byte{2, 8, 0, 0, 1, 0, 0, 0} // AF_INET /8 index 1
	addrs := nlMsg(rtmNewAddr, addr, map[uint16][]byte{ifaLocal: {127, 0, 0, 1}})
	got := ParseLinkDump(links, addrs)
	want := []Interface{{Index: 1, Name: "lo", Up: false, Loopback: true, MTU: 65536, Flags: []string{"LOOPBACK"}, Addrs: []string{"127.0.0.1/8"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got := ParseLinkDump(links[:10], addrs[:3]); len(got) != 0 {
		t.Errorf("truncated dump gave %+v", got)
	}
}
