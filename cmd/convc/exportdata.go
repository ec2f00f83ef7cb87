package main

import (
	"fmt"

	"github.com/convc/convc"
	"github.com/convc/convc/codegen"
	"github.com/convc/convc/internal/npy"
)

func init() {
	register(&command{
		Name:  "export-data",
		Usage: "SPEC [-data DIR] -o OUT [-uint8] [-skip-bad-images]",
		Short: "decode a spec's image_directory data set into .npy files for the PyTorch target",
		Long: `Export-data reads the spec's image_directory data set (DIR/train,
DIR/validation if present, DIR/test) exactly as the Go trainer does, with
the runtime's decoder, color conversion and bilinear resize, and writes
OUT/{split}_x.npy (N, height, width, channels; float32 pixels in [0, 255]),
OUT/{split}_y.npy (float32 0/1 for one sigmoid unit with
binary_crossentropy, the int64 class index otherwise) and
OUT/classes.json. The PyTorch target's train.py reads them with NumPy:

  convc export-data specs/cats_vs_dogs.cnn -data cats_vs_dogs_small -o cats_vs_dogs_npy
  python3 pytorch/cats_vs_dogs/train.py --data cats_vs_dogs_npy

With -uint8 the pixels are rounded to uint8: four times smaller, but no
longer exactly the Go trainer's where an image was resized.`,
		Run: runExportData,
	})
}

func runExportData(args []string) int {
	c := lookup("export-data")
	fs := newFlagSet(c)
	data := fs.String("data", "", "image folder with train/, validation/ and test/ (default: the spec's image_directory path)")
	out := fs.String("o", "", "folder to write the .npy files and classes.json into (required)")
	u8 := fs.Bool("uint8", false, "store pixels as uint8, rounded (4x smaller, not bit-identical to the Go trainer's after a resize)")
	skipBad := fs.Bool("skip-bad-images", false, "leave out unreadable images with a warning instead of failing")
	files, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) != 1 || *out == "" {
		fmt.Fprintln(stderr, "convc export-data: need one spec file and -o OUT")
		fs.Usage()
		return 2
	}
	m, err := convc.Check(files[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	spec := codegen.RuntimeSpec(m, files[0])
	if _, err := npy.ExportImageDirectory(spec, *data, *out, npy.Options{Uint8: *u8, SkipBad: *skipBad, Log: stdout}); err != nil {
		fmt.Fprintf(stderr, "convc export-data: %v\n", err)
		return 1
	}
	return 0
}
