package main

import (
	"fmt"
	"github.com/convc/convc/dsl"
	"slices"
	"strings"

	"github.com/convc/convc/internal/split"
)

func init() {
	register(&command{
		Name:  "split",
		Usage: "-from DIR -to DIR NAME=START:END...",
		Short: "copy numbered images into train/validation/test class folders (listing 8-6)",
		Long: `Split copies files named <class>.<index>.<ext> (such as Kaggle's
cat.12.jpg), or the numbered files of class subfolders, into
TO/NAME/<class>/ for each NAME=START:END, taking indices START to END-1 of
every class. Listing 8-6 of the book is:

  convc split -from train -to cats_vs_dogs_small train=0:1000 validation=1000:1500 test=1500:2500

TO must not exist or be empty. Files whose names do not match, and indices
missing from a range, are reported.`,
		Run: runSplit,
	})
}

func runSplit(args []string) int {
	c := lookup("split")
	fs := newFlagSet(c)
	from := fs.String("from", "", "folder of numbered images (required)")
	to := fs.String("to", "", "new folder to create the subsets in (required)")
	names, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if *from == "" || *to == "" || len(names) == 0 {
		fmt.Fprintln(stderr, "convc split: need -from, -to and at least one NAME=START:END")
		fs.Usage()
		return 2
	}
	var subsets []split.Subset
	for _, a := range names {
		s, err := split.ParseSubset(a)
		if err != nil {
			fmt.Fprintf(stderr, "convc split: %v\n", err)
			return 2
		}
		subsets = append(subsets, s)
	}
	r, err := split.Split(*from, *to, subsets)
	if err != nil {
		fmt.Fprintf(stderr, "convc split: %v\n", err)
		return 1
	}
	for _, s := range subsets {
		var parts []string
		for class, n := range r.Copied[s.Name] {
			parts = append(parts, fmt.Sprintf("%d %s", n, class))
		}
		slices.Sort(parts)
		fmt.Fprintf(stdout, "%s: %s\n", s.Name, strings.Join(parts, ", "))
	}
	report := func(what string, n int, names []string) {
		if n == 0 {
			return
		}
		shown := names[:min(len(names), 5)]
		more := ""
		if n > len(shown) {
			more = fmt.Sprintf(" and %d more", n-len(shown))
		}
		for i := range shown {
			shown[i] = dsl.Printable(shown[i])
		}
		fmt.Fprintf(stderr, "convc split: warning: %d %s: %s%s\n", n, what, strings.Join(shown, ", "), more)
	}
	report("files are not named <class>.<index>.<ext> with a plain class name (not hidden, no control characters) and were not copied", len(r.Unmatched), r.Unmatched)
	report("indices of the ranges are missing from the source", r.MissingCount, r.Missing)
	return 0
}
