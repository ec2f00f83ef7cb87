package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/convc/convc/internal/plot"
	"github.com/convc/convc/runtime"
)

func init() {
	register(&command{
		Name:  "plot",
		Usage: "[-o curves.png] [-title T] history.csv",
		Short: "draw training and validation accuracy and loss per epoch as a PNG",
		Long: `Plot reads a history CSV (what "<model> train -history H.csv" writes, or
Keras's CSVLogger) and draws the book's two figures side by side in one
PNG: training and validation accuracy per epoch on the left, training and
validation loss per epoch on the right. Training values are dots,
validation values a line.`,
		Run: runPlot,
	})
}

func runPlot(args []string) int {
	c := lookup("plot")
	fs := newFlagSet(c)
	out := fs.String("o", "", "output PNG file (default: the CSV's name with .png)")
	title := fs.String("title", "", "prefix of the panel titles, such as the model's name")
	// Flags may follow the file, as in "convc plot history.csv -o curves.png".
	files, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "convc plot: need exactly one history CSV file")
		fs.Usage()
		return 2
	}
	in := files[0]
	if *out == "" {
		*out = strings.TrimSuffix(in, filepath.Ext(in)) + ".png"
	}
	h, err := runtime.ReadHistoryCSV(in)
	if err != nil {
		fmt.Fprintf(stderr, "convc plot: %v\n", err)
		return 1
	}
	if err := plot.Curves(h, *title, *out); err != nil {
		fmt.Fprintf(stderr, "convc plot: %s: %v\n", in, err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return 0
}
