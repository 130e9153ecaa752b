package network

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// Outbound NAT, `network create --nat`: opt-in, never the default, never in
// the tests' host (they run it in a network namespace of their own). Two
// things make a container's packets leave the machine, and stepbox owns
// both until `network rm`:
//
//   - forwarding: packets that arrive on the bridge are routed on
//     (conf/<bridge>/forwarding), and the host forwards at all
//     (net.ipv4.ip_forward, ip-sysctl). Writing ip_forward writes every
//     interface's forwarding, so the bridges of the other, non-NAT
//     networks are turned back off after it. The value before is kept in
//     Run/networks/ip_forward.before and written back when the last NAT
//     network goes, and only if stepbox changed it.
//   - masquerade: an nftables table of the network's own, ip
//     stepbox-<bridge>, whose postrouting chain (type nat, priority
//     srcnat) rewrites the source of what comes from the subnet and leaves
//     by any interface but the bridge to that interface's address
//     (nft(8) masquerade); conntrack rewrites the answers back. Deleting
//     the table deletes the rule with it, in one transaction.
//
// A host firewall that drops forwarded packets (a forward chain with
// policy drop) still drops them: stepbox adds no rule to anyone else's
// table.

const ipForward = "/proc/sys/net/ipv4/ip_forward"

func natTable(n *Network) *nftables.Table {
	return &nftables.Table{Family: nftables.TableFamilyIPv4, Name: "stepbox-" + n.Bridge}
}

func (s Store) forwardRecord() string { return filepath.Join(s.Run, "networks", "ip_forward.before") }

// ensureNAT sets n's masquerade and forwarding up, as often as asked: at
// `network create --nat`, and at each use after a reboot cleared them.
func (s Store) ensureNAT(n *Network) error {
	if err := s.forwardOn(); err != nil {
		return err
	}
	if err := setForwarding(n.Bridge, true); err != nil {
		return err
	}
	if err := s.othersOff(n.Name); err != nil {
		return err
	}
	return masquerade(n)
}

// forwardOn turns ip_forward on, remembering that it was off.
func (s Store) forwardOn() error {
	b, err := os.ReadFile(ipForward)
	if err != nil {
		return fmt.Errorf("read %s: %w", ipForward, err)
	}
	if strings.TrimSpace(string(b)) == "1" {
		return nil
	}
	if _, err := os.Stat(s.forwardRecord()); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(s.forwardRecord()), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(s.forwardRecord(), b, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", s.forwardRecord(), err)
		}
	}
	if err := os.WriteFile(ipForward, []byte("1\n"), 0); err != nil {
		return fmt.Errorf("write %s: %w", ipForward, err)
	}
	return nil
}

// othersOff turns forwarding off again on every other network's bridge
// that is not NAT's (writing ip_forward turned it on).
func (s Store) othersOff(except string) error {
	nets, err := s.List()
	if err != nil {
		return err
	}
	for _, o := range nets {
		if o.Name == except || o.NAT {
			continue
		}
		if err := setForwarding(o.Bridge, false); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// masquerade replaces n's table with one holding its rule:
//
//	table ip stepbox-<bridge> {
//	  chain postrouting {
//	    type nat hook postrouting priority srcnat;
//	    ip saddr <subnet> oifname != "<bridge>" masquerade
//	  }
//	}
func masquerade(n *Network) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	p := n.prefix()
	mask := net.CIDRMask(p.Bits(), 32)
	t := c.AddTable(natTable(n))
	c.FlushTable(t) // a rule from before goes in the same transaction
	ch := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	ifname := make([]byte, unix.IFNAMSIZ)
	copy(ifname, n.Bridge)
	c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: []expr.Any{
		// ip saddr & mask == subnet
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()},
		// oifname != bridge
		&expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname},
		&expr.Masq{},
	}})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables: add table ip %s: %w", natTable(n).Name, err)
	}
	return nil
}

// removeNAT deletes n's table and, when no other NAT network is left,
// gives ip_forward back the value stepbox found.
func (s Store) removeNAT(n *Network) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if t, err := c.ListTableOfFamily(natTable(n).Name, nftables.TableFamilyIPv4); err == nil && t != nil {
		c.DelTable(natTable(n))
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("nftables: delete table ip %s: %w", natTable(n).Name, err)
		}
	}
	nets, err := s.List()
	if err != nil {
		return err
	}
	for _, o := range nets {
		if o.NAT && o.Name != n.Name {
			return nil // still needed
		}
	}
	b, err := os.ReadFile(s.forwardRecord())
	if errors.Is(err, fs.ErrNotExist) {
		return nil // stepbox did not change it
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(ipForward, b, 0); err != nil {
		return fmt.Errorf("write %s: %w", ipForward, err)
	}
	return os.Remove(s.forwardRecord())
}
