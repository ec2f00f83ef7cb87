package main

import (
	"fmt"

	"github.com/convc/convc/dsl"
)

func init() {
	register(&command{
		Name:  "summary",
		Usage: "[-v] FILE",
		Short: "print a spec's model summary as Keras prints it",
		Long: `Summary checks the spec and prints the table that Keras's
model.summary() prints (tf-keras 2.15 format): each layer with its output
shape and parameter count, then the totals. With -v the table gains a
column of multiply-accumulates per sample and their total.`,
		Run: runSummary,
	})
}

func runSummary(args []string) int {
	c := lookup("summary")
	fs := newFlagSet(c)
	verbose := fs.Bool("v", false, "add a column of multiply-accumulates (MACs) per sample")
	files, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "convc summary: want one FILE\n")
		fs.Usage()
		return 2
	}
	m, errs := dsl.CheckFile(files[0])
	if len(errs) > 0 {
		errs.Sort()
		for _, e := range errs {
			fmt.Fprintln(stderr, e)
		}
		return 1
	}
	fmt.Fprint(stdout, dsl.Summary(m, *verbose))
	return 0
}
