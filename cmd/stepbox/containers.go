package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/internal/ui"
	"github.com/stepbox/stepbox/sandbox"
)

func init() {
	register("ps", newPsCmd)
	register("rm", newRmCmd)
}

func newPsCmd(g *globals) *cobra.Command {
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List containers",
		Long: `List the containers stepbox knows: running ones, and with -a stopped ones too.

stepbox가 관리하는 컨테이너를 보여 줍니다. -a를 주면 멈춘 것도 보여 줍니다.`,
		Example: "  stepbox ps\n  stepbox ps -a --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			states, err := sandbox.List(sandbox.DefaultPaths(g.StateRoot()))
			if err != nil {
				return err
			}
			var shown []sandbox.State
			for _, s := range states {
				if all || s.Status != sandbox.Stopped {
					shown = append(shown, s)
				}
			}
			if asJSON {
				if shown == nil {
					shown = []sandbox.State{}
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(shown)
			}
			t := ui.Table{Header: []string{"NAME", "STATUS", "PID", "CREATED", "COMMAND"}, MaxWidth: 100, Shrink: []int{4}, Style: g.Style()}
			for _, s := range shown {
				pid := "-"
				if s.Status != sandbox.Stopped {
					pid = fmt.Sprint(s.Pid)
				}
				status := string(s.Status)
				if s.Status == sandbox.Stopped && s.ExitCode != nil {
					status = fmt.Sprintf("exited (%d)", *s.ExitCode)
				}
				t.Add(s.ID, status, pid, ago(s.Created), strings.Join(s.Args, " "))
			}
			return t.Render(g.stdout)
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "show stopped containers too")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func ago(t time.Time) string {
	d := time.Since(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return t.Local().Format("2006-01-02")
}

func newRmCmd(g *globals) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm NAME...",
		Short: "Remove containers",
		Long: `Remove stopped containers; with --force, running ones too (their processes
are killed first).

멈춘 컨테이너를 지웁니다. --force를 주면 실행 중인 것도 프로세스를 죽이고 지웁니다.`,
		Example: "  stepbox rm web\n  stepbox rm --force web db",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			paths := sandbox.DefaultPaths(g.StateRoot())
			var errs []error
			for _, id := range args {
				c, err := sandbox.Load(paths, id)
				if err == nil {
					err = c.Delete(force)
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(g.stdout, id)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVarP(&force, "force", "f", false, "kill and remove running containers")
	return cmd
}
