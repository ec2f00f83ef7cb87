package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/convc/convc"
)

func init() {
	register(&command{
		Name:  "build",
		Usage: "convc build [-o DIR] FILE",
		Short: "generate the model's Go package and trainer",
		Run:   runBuild,
	})
}

func runBuild(args []string) int {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: convc build [-o DIR] FILE

Build checks the spec and writes its Go package into DIR (default
generated/<model>): <model>.go with kernels specialized to the model's
shapes, <model>_test.go, and the trainer's main package in cmd/<model>.
DIR must be inside a Go module that requires github.com/convc/convc.
Build the trainer with "go build ./DIR/cmd/<model>".

Flags:
`)
		fs.PrintDefaults()
	}
	out := fs.String("o", "", "output folder (default generated/<model>)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "convc build: need exactly one spec file")
		fs.Usage()
		return 2
	}
	if _, _, err := convc.Build(fs.Arg(0), convc.BuildOptions{OutDir: *out}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
