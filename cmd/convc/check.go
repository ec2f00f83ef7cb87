package main

import (
	"fmt"

	"github.com/convc/convc/dsl"
)

func init() {
	register(&command{
		Name:  "check",
		Usage: "FILE...",
		Short: "check specs and report every error",
		Long: `Check parses and checks each spec: syntax, arguments, shapes, names,
and whether the loss fits the output. It prints nothing and exits 0 when
every spec is valid. Otherwise it prints every error as
file:line:col: message, sorted, and exits 1.`,
		Run: runCheck,
	})
}

func runCheck(args []string) int {
	c := lookup("check")
	fs := newFlagSet(c)
	if code := parseFlags(fs, args); code >= 0 {
		return code
	}
	if fs.NArg() == 0 {
		fmt.Fprintf(stderr, "convc check: no files\n")
		fs.Usage()
		return 2
	}
	code := 0
	for _, path := range fs.Args() {
		if _, errs := dsl.CheckFile(path); len(errs) > 0 {
			errs.Sort()
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			code = 1
		}
	}
	return code
}
