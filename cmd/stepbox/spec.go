package main

import (
	"path/filepath"

	"github.com/spf13/cobra"
)

func init() { register("spec", newSpecCmd) }

func newSpecCmd(g *globals) *cobra.Command {
	o := &runOptions{}
	var oci10 bool
	cmd := &cobra.Command{
		Use:   "spec [run flags] [IMAGE] [--] COMMAND [ARG...]",
		Short: "Print the OCI config.json that 'stepbox run' would use",
		Long: `Print, as an OCI runtime-spec config.json, the container description that
'stepbox run' makes from the same flags: another OCI runtime (runc, crun) can
run it from a bundle, and a learner can read what every flag becomes.

'stepbox run'이 같은 옵션으로 만들 컨테이너 설명을 OCI config.json으로 보여 줍니다.`,
		Example: `  stepbox spec --rootfs rootfs -- sh > config.json
  stepbox spec --rootfs rootfs --memory 64m --pids-limit 100 -- /bin/true`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.nsGiven = cmd.Flags().Changed("ns")
			o.entrypointSet = cmd.Flags().Changed("entrypoint")
			o.dashAt = cmd.ArgsLenAtDash()
			src, args, err := o.source(g, runPaths(g), args, true)
			if err != nil {
				return err
			}
			spec, err := o.spec(g, runPaths(g), src, args)
			if err != nil {
				return err
			}
			if src.img != nil {
				// An image's files go into a bundle's rootfs directory
				// (stepbox export CONTAINER | tar -x -C rootfs).
				spec.Root.Path = "rootfs"
			}
			if o.rootfs != "" && !filepath.IsAbs(o.rootfs) {
				// A bundle's root.path is relative to the bundle.
				spec.Root.Path = o.rootfs
			}
			if oci10 {
				// crun 1.8 accepts only ociVersion strings containing "1.0".
				spec.Version = "1.0.2-dev"
			}
			return writeJSON(g.stdout, spec)
		},
	}
	o.flags(cmd)
	cmd.Flags().BoolVar(&oci10, "oci-1.0", false, "write ociVersion 1.0.2-dev, for runtimes that accept no later version")
	return cmd
}
