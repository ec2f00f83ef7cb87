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
every spec is valid (with -v, a line per spec with the memory its weights
and one sample's activations take). Otherwise it prints every error as
file:line:col: message, sorted, and exits 1.`,
		Run: runCheck,
	})
}

func runCheck(args []string) int {
	c := lookup("check")
	fs := newFlagSet(c)
	verbose := fs.Bool("v", false, "print each valid spec's parameters and memory")
	files, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) == 0 {
		fmt.Fprintf(stderr, "convc check: no files\n")
		fs.Usage()
		return 2
	}
	code = 0
	for _, path := range files {
		m, errs := dsl.CheckFile(path)
		if len(errs) > 0 {
			errs.Sort()
			for _, e := range errs {
				fmt.Fprintln(stderr, e)
			}
			code = 1
			continue
		}
		if *verbose {
			fmt.Fprintf(stdout, "%s: model %s, %d layers, %d parameters (%.1f MB of float32 weights), %d activations per sample (%.1f MB)\n",
				dsl.Printable(path), m.Name, len(m.Layers), m.ParamCount(), float64(m.ParamCount())*4/(1<<20), m.ActivationCount(), float64(m.ActivationCount())*4/(1<<20))
		}
	}
	return code
}
