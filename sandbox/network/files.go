package network

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/stepbox/stepbox/sandbox/network/netconf"
)

// A container's /etc/hosts, /etc/resolv.conf and /etc/hostname are files
// of its own in its state directory, bound over the root filesystem's
// (which every container of the built-in root filesystem shares, so it is
// never written). /etc/hosts is how containers on one user-defined network
// find one another by name: each one's file lists its peers, and is
// rewritten in place as they come and go (DESIGN.md, "Networks", says why
// a file and not a DNS server).

func hostsPath(dir string) string { return netconf.FilesIn(dir).Hosts }

// FilesOf are the container's /etc files on the host, under its state
// directory dir.
func FilesOf(dir string) netconf.ConfigFiles { return netconf.FilesIn(dir) }

// peersMark separates what /etc/hosts holds for the container's whole run
// (above) from what is rewritten as containers come and go (below).
const peersMark = "# stepbox: this container and its peers on its networks, rewritten as they come and go\n"

// hostsHeader is what docker writes first (hosts(5)).
const hostsHeader = `127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
fe00::0	ip6-localnet
ff00::0	ip6-mcastprefix
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
`

// writeFiles writes the container's three files anew: the fixed part of
// /etc/hosts (localhost, or the host's own file for the host's network,
// and --add-host), /etc/resolv.conf and /etc/hostname.
func writeFiles(c netconf.Container) error {
	cfg := c.Config
	var hosts bytes.Buffer
	if cfg.Mode == netconf.ModeHost {
		// The host's network, the host's names (as docker does).
		b, _ := os.ReadFile("/etc/hosts")
		hosts.Write(b)
		if len(b) > 0 && b[len(b)-1] != '\n' {
			hosts.WriteByte('\n')
		}
	} else {
		hosts.WriteString(hostsHeader)
	}
	for _, h := range cfg.ExtraHosts {
		fmt.Fprintf(&hosts, "%s\t%s\n", h.IP, h.Name)
	}
	hosts.WriteString(peersMark)
	f := FilesOf(c.Dir)
	for path, b := range map[string][]byte{
		f.Hosts:      hosts.Bytes(),
		f.ResolvConf: resolvConf(cfg, readFile("/etc/resolv.conf")),
		f.Hostname:   []byte(c.Hostname + "\n"),
	} {
		if err := rewrite(path, unix.O_CREAT, func([]byte) []byte { return b }); err != nil {
			return err
		}
	}
	return nil
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// rewrite replaces the content of path in place, under an flock(2) of the
// file, with what f makes of the content it has: a bind mount of the file
// holds its inode, so a new file renamed over it would never be seen
// inside. The new content is written over the old and the rest cut off
// after (pwrite(2), ftruncate(2)), so a reader finds the localhost lines
// at every moment. create is O_CREAT for the first write and 0 for a
// refresh: a container being removed at the same time must not get its file
// back behind its rmdir (which then fails with ENOTEMPTY).
func rewrite(path string, create int, f func(old []byte) []byte) error {
	fd, err := unix.Open(path, unix.O_RDWR|create|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", path, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	old := make([]byte, st.Size)
	for n := 0; n < len(old); {
		m, err := unix.Pread(fd, old[n:], int64(n))
		if err != nil {
			return fmt.Errorf("read %s: %w", path, err)
		}
		if m == 0 {
			old = old[:n]
			break
		}
		n += m
	}
	b := f(old)
	if bytes.Equal(b, old) {
		return nil
	}
	if _, err := unix.Pwrite(fd, b, 0); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := unix.Ftruncate(fd, int64(len(b))); err != nil {
		return fmt.Errorf("truncate %s: %w", path, err)
	}
	return nil
}

// resolvConf is the container's /etc/resolv.conf (resolv.conf(5)): the
// host's, with --dns, --dns-search and --dns-option in place of its
// nameservers, search list and options. A nameserver on the host's
// loopback (a local cache, systemd-resolved's 127.0.0.53) cannot be
// reached from another network namespace and is left out, unless the
// container is on the host's network.
func resolvConf(cfg *netconf.Config, host []byte) []byte {
	var servers, search, options []string
	for _, line := range strings.Split(string(host), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			ip, err := netip.ParseAddr(f[1])
			if err == nil && (cfg.Mode == netconf.ModeHost || !ip.IsLoopback()) {
				servers = append(servers, f[1])
			}
		case "search", "domain": // the last of the two wins (resolv.conf(5))
			search = f[1:]
		case "options":
			options = append(options, f[1:]...)
		}
	}
	if len(cfg.DNS) > 0 {
		servers = cfg.DNS
	}
	if len(cfg.DNSSearch) > 0 {
		search = cfg.DNSSearch
	}
	if len(cfg.DNSOptions) > 0 {
		options = cfg.DNSOptions
	}
	var b bytes.Buffer
	b.WriteString("# written by stepbox for this container, from the host's and --dns (resolv.conf(5))\n")
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(servers) == 0 {
		b.WriteString("# no nameserver: the host's are on its own loopback, which the container cannot reach\n")
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(options) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(options, " "))
	}
	return b.Bytes()
}

// refreshHosts rewrites the part of container id's /etc/hosts (at path)
// below peersMark: a line for each of its own addresses with its hostname
// (and, on a network that resolves names, its name and aliases), and a
// line for every other container on each of its networks that resolves
// names. It reads the leases after it holds the file's lock, so the last
// of two writers at once writes what is current.
func (s Store) refreshHosts(path, id string) error {
	err := rewrite(path, 0, func(old []byte) []byte {
		i := bytes.Index(old, []byte(peersMark))
		if i < 0 {
			return old // not ours to change (written by another build)
		}
		out := append([]byte{}, old[:i+len(peersMark)]...)
		return append(out, s.hostsLines(id)...)
	})
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOENT) {
		return nil // its container is gone
	}
	return err
}

func (s Store) hostsLines(id string) []byte {
	var own, peers bytes.Buffer
	for _, name := range s.networksWithLeases() {
		ls := s.leases(name)
		i := slices.IndexFunc(ls, func(l lease) bool { return l.Container == id })
		if i < 0 {
			continue
		}
		me := ls[i]
		resolves := false
		if n, err := s.read(name); err == nil {
			resolves = n.ResolvesNames()
		}
		names := []string{me.Hostname}
		if resolves {
			names = append(names, me.Name)
			names = append(names, me.Aliases...)
		}
		hostLine(&own, me.IP, names)
		if !resolves {
			continue
		}
		slices.SortFunc(ls, func(a, b lease) int { return compareIP(a.IP, b.IP) })
		for _, l := range ls {
			if l.Container != id && l.live() {
				hostLine(&peers, l.IP, append(append([]string{l.Name}, l.Aliases...), idName(l.Container)))
			}
		}
	}
	return append(own.Bytes(), peers.Bytes()...)
}

// idName is the name a container's id gives it in /etc/hosts: docker's
// short id (twelve hex digits) of a generated id, or the whole id the
// caller chose (a lesson's "lesson-123-peer", whose first twelve
// characters another container's id may share).
func idName(id string) string {
	if len(id) != 64 {
		return id
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return id
		}
	}
	return id[:12]
}

// hostLine writes "IP NAME…", each name once.
func hostLine(b *bytes.Buffer, ip string, names []string) {
	var seen []string
	for _, n := range names {
		if n != "" && !slices.Contains(seen, n) {
			seen = append(seen, n)
		}
	}
	if len(seen) > 0 {
		fmt.Fprintf(b, "%s\t%s\n", ip, strings.Join(seen, " "))
	}
}

func compareIP(a, b string) int {
	x, _ := netip.ParseAddr(a)
	y, _ := netip.ParseAddr(b)
	return x.Compare(y)
}

// refreshNetwork rewrites the /etc/hosts of every container on network
// name.
func (s Store) refreshNetwork(name string) error {
	var errs []error
	for _, l := range s.leases(name) {
		if l.live() {
			if err := s.refreshHosts(l.Hosts, l.Container); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}
