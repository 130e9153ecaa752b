package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/nsinspect"
)

func init() { register("ns", newNSCmd) }

func newNSCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ns",
		Short: "List every namespace on the host, like lsns",
		Long: `ns lists every namespace a process on this host is in: its inode, type, how
many processes are in it, the lowest PID among them with its user and command.
Namespaces kept alive only by a bind mount (ip netns add) are listed too, with
the mount that holds them. Processes whose namespaces cannot be read are
counted, not silently left out: run as root to see them all.

ns는 호스트의 모든 네임스페이스를 lsns처럼 보여 줍니다: inode, 종류, 프로세스 수,
가장 작은 PID와 그 사용자, 명령. 바인드 마운트로만 유지되는 네임스페이스(ip netns
add)도 보여 줍니다. 읽을 수 없는 프로세스는 개수로 알려 줍니다(root로 실행하세요).`,
		Example: `  sudo stepbox ns
  sudo stepbox ns --json | jq '.namespaces[] | select(.type=="net")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := nsinspect.ListNamespaces()
			if err != nil {
				return fmt.Errorf("list namespaces: %w", err)
			}
			if asJSON {
				return writeJSON(g.stdout, l)
			}
			st := g.Style()
			tab := ui.Table{
				Header:   []string{"NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND"},
				MaxWidth: 80,
				Shrink:   []int{5},
				Style:    st,
			}
			for _, n := range l.Namespaces {
				pid, cmdline := strconv.Itoa(n.PID), n.Command
				if n.PID == 0 {
					pid, cmdline = "-", st.Faint("held by "+strings.Join(n.Held, " "))
				}
				tab.Add(strconv.FormatUint(n.Inode, 10), n.Type, strconv.Itoa(n.NProcs), pid, n.User, cmdline)
			}
			if err := tab.Render(g.stdout); err != nil {
				return err
			}
			if l.Denied > 0 {
				_, err = fmt.Fprintln(g.stdout, st.Warn(fmt.Sprintf("%d of %d processes could not be read (permission denied): run as root to list their namespaces", l.Denied, l.Processes)))
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return cmd
}
