package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/runtime-spec/specs-go/features"
	"github.com/spf13/cobra"

	"github.com/stepbox/stepbox/sandbox"
	"github.com/stepbox/stepbox/sandbox/rootfs"
	"github.com/stepbox/stepbox/sandbox/security"
)

func ociPsCmd(g *ociGlobals) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "ps [--format table|json] CONTAINER_ID [PS_OPTIONS]",
		Short: "ps displays the processes running inside a container",
		Args:  ociArgs("ps", 1, false),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := g.load(args[0])
			if err != nil {
				return err
			}
			pids, err := c.Pids()
			if err != nil {
				return err
			}
			switch format {
			case "json":
				return json.NewEncoder(g.stdout).Encode(pids)
			case "table":
			default:
				return errors.New("invalid format option")
			}
			psArgs := args[1:]
			if len(psArgs) == 0 {
				psArgs = []string{"-ef"}
			}
			out, err := exec.Command("ps", psArgs...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("ps: %w: %s", err, strings.TrimSpace(string(out)))
			}
			lines := strings.Split(string(out), "\n")
			col := slices.Index(strings.Fields(lines[0]), "PID")
			if col < 0 {
				return errors.New("couldn't find PID field in ps output")
			}
			fmt.Fprintln(g.stdout, lines[0])
			for _, line := range lines[1:] {
				f := strings.Fields(line)
				if len(f) <= col {
					continue
				}
				if pid, err := strconv.Atoi(f[col]); err == nil && slices.Contains(pids, pid) {
					fmt.Fprintln(g.stdout, line)
				}
			}
			return nil
		},
	}
	cmd.Flags().SetInterspersed(false)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "select one of: table or json")
	return cmd
}

func ociListCmd(g *ociGlobals) *cobra.Command {
	var format string
	var quiet bool
	cmd := &cobra.Command{
		Use:     "list [--format table|json] [--quiet]",
		Aliases: []string{"ls"},
		Short:   "lists containers started with the given root",
		Args:    ociArgs("list", 0, true),
		RunE: func(_ *cobra.Command, _ []string) error {
			states, err := sandbox.List(g.paths())
			if err != nil {
				return err
			}
			var out []ociState
			for _, s := range states {
				c, err := sandbox.Load(g.paths(), s.ID)
				if err != nil {
					continue
				}
				out = append(out, stateOf(c))
			}
			if quiet {
				for _, s := range out {
					fmt.Fprintln(g.stdout, s.ID)
				}
				return nil
			}
			switch format {
			case "json":
				return json.NewEncoder(g.stdout).Encode(out)
			case "table":
			default:
				return errors.New("invalid format option")
			}
			w := tabwriter.NewWriter(g.stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range out {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.Pid, s.Status, s.Bundle,
					s.Created.Format(time.RFC3339Nano), "root")
			}
			return w.Flush()
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "table", "select one of: table or json")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "display only container IDs")
	return cmd
}

func ociSpecCmd(g *ociGlobals) *cobra.Command {
	var bundle string
	var rootless bool
	cmd := &cobra.Command{
		Use:   "spec [--bundle DIR] [--rootless]",
		Short: "create a new specification file",
		Long: `Write a config.json for a bundle whose root filesystem is ./rootfs: sh on a
terminal, runc's defaults (three capabilities, no_new_privs, a read-only root,
the usual masked and read-only paths). --rootless adds a user namespace that
maps the caller's own uid and gid to root.`,
		Args: ociArgs("spec", 0, true),
		RunE: func(_ *cobra.Command, _ []string) error {
			spec := ociDefaultSpec()
			if rootless {
				ociRootless(spec)
			}
			path := "config.json"
			if bundle != "" {
				path = filepath.Join(bundle, path)
			}
			if _, err := os.Stat(path); err == nil {
				return errors.New("File config.json exists. Remove it first")
			}
			b, err := json.MarshalIndent(spec, "", "\t")
			if err != nil {
				return err
			}
			return os.WriteFile(path, append(b, '\n'), 0o666)
		},
	}
	cmd.Flags().StringVarP(&bundle, "bundle", "b", "", "path to the root of the bundle directory")
	cmd.Flags().BoolVar(&rootless, "rootless", false, "generate a configuration for a rootless container")
	return cmd
}

// ociDefaultSpec is the bundle runc spec writes, in stepbox's own terms.
func ociDefaultSpec() *specs.Spec {
	caps := []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}
	s := &specs.Spec{
		Version: specs.Version,
		Root:    &specs.Root{Path: "rootfs", Readonly: true},
		Process: &specs.Process{
			Terminal:        true,
			Args:            []string{"sh"},
			Env:             []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:             "/",
			Capabilities:    security.SpecCapabilities(caps),
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Hostname: "stepbox",
		Mounts:   rootfs.DefaultMounts(),
		Linux: &specs.Linux{
			Resources:     &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			MaskedPaths:   rootfs.DefaultMaskedPaths(),
			ReadonlyPaths: rootfs.DefaultReadonlyPaths(),
		},
	}
	for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.NetworkNamespace, specs.IPCNamespace,
		specs.UTSNamespace, specs.MountNamespace, specs.CgroupNamespace} {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: t})
	}
	return s
}

// ociRootless makes the spec a rootless one, as runc spec --rootless does:
// a user namespace mapping the caller to root, no network namespace of its
// own, /sys bound from the host, no cgroup writes.
func ociRootless(s *specs.Spec) {
	s.Linux.Resources = nil
	s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(ns specs.LinuxNamespace) bool {
		return ns.Type == specs.NetworkNamespace
	})
	s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
	s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Geteuid()), Size: 1}}
	s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(os.Getegid()), Size: 1}}
	for i, m := range s.Mounts {
		if m.Destination == "/sys" {
			s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "none", Source: "/sys",
				Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
		}
	}
	s.Mounts = slices.DeleteFunc(s.Mounts, func(m specs.Mount) bool { return m.Type == "cgroup" })
}

func ociFeaturesCmd(g *ociGlobals) *cobra.Command {
	return &cobra.Command{
		Use:   "features",
		Short: "show the enabled features",
		Long: `Show what this runtime supports, as the runtime-spec's features document
(features.md), for an engine to read.`,
		Args: ociArgs("features", 0, true),
		RunE: func(_ *cobra.Command, _ []string) error {
			enc := json.NewEncoder(g.stdout)
			enc.SetIndent("", "    ")
			return enc.Encode(ociFeatures())
		},
	}
}

// ociFeatures says what stepbox honours; what it refuses is left out.
func ociFeatures() features.Features {
	t, f := true, false
	var nss []string
	for _, ns := range sandbox.Namespaces {
		nss = append(nss, string(ns.Type))
	}
	return features.Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: specs.Version,
		Hooks: []string{"prestart", "createRuntime", "createContainer", "startContainer",
			"poststart", "poststop"},
		MountOptions: rootfs.KnownMountOptions(),
		Linux: &features.Linux{
			Namespaces:   nss,
			Capabilities: security.Capabilities(),
			Cgroup:       &features.Cgroup{V1: &t, V2: &t, Systemd: &f, SystemdUser: &f, Rdma: &f},
			Seccomp: &features.Seccomp{
				Enabled:        &t,
				Actions:        security.KnownActions(),
				Operators:      security.KnownOperators(),
				Archs:          security.KnownArchs(),
				KnownFlags:     security.KnownFlags(),
				SupportedFlags: security.KnownFlags(),
			},
			Apparmor:        &features.Apparmor{Enabled: &f},
			Selinux:         &features.Selinux{Enabled: &f},
			IntelRdt:        &features.IntelRdt{Enabled: &f},
			MountExtensions: &features.MountExtensions{IDMap: &features.IDMap{Enabled: &f}},
			NetDevices:      &features.NetDevices{Enabled: &f},
		},
		Annotations:                        map[string]string{"org.stepbox.version": version},
		PotentiallyUnsafeConfigAnnotations: []string{sandbox.AnnotationInit},
	}
}
