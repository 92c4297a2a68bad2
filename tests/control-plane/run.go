// run.go: hands a component's cobra command to component-base's runner (which
// sets up logging and flag normalisation the way the real binaries do).
package main

import (
	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
)

func runCobra(cmd interface{ SetArgs([]string) }) int {
	return cli.Run(cmd.(*cobra.Command))
}
