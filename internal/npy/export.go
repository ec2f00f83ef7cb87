package npy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	"github.com/convc/convc/runtime"
)

// Options configure ExportImageDirectory.
type Options struct {
	// Uint8 writes the pixels as uint8, rounded to the nearest integer:
	// four times smaller than float32, but a resized image's interpolated
	// values move by up to 0.5, so the PyTorch engine no longer sees
	// exactly the Go trainer's pixels. Images already at image_size are
	// integers and stay exact.
	Uint8 bool
	// SkipBad leaves out unreadable images with a warning, as the
	// trainer's -skip-bad-images does.
	SkipBad bool
	// Workers is the number of images decoded in parallel; 0 means
	// GOMAXPROCS. The files do not depend on it.
	Workers int
	// Log receives one line per split and the warnings; nil discards them.
	Log io.Writer
}

// Label modes, as image_dataset_from_directory names them.
const (
	// LabelBinary labels are float32 0 or 1, for one sigmoid unit with
	// binary_crossentropy.
	LabelBinary = "binary"
	// LabelInt labels are the int64 class index, for
	// sparse_categorical_crossentropy.
	LabelInt = "int"
	// LabelCategorical labels are also the int64 class index; train.py
	// turns them into one-hot rows, which would take a float32 per class
	// on disk.
	LabelCategorical = "categorical"
)

// Split is one exported split of the data set.
type Split struct {
	Name string `json:"name"`
	// Dir is the image folder it was read from.
	Dir string `json:"dir"`
	// X and Y are the .npy files' names in the output folder.
	X string `json:"x"`
	Y string `json:"y"`
	// Count is the number of images, PerClass their number per class.
	Count    int   `json:"count"`
	PerClass []int `json:"per_class"`
}

// Manifest is classes.json, written last: a folder with it holds a
// complete export.
type Manifest struct {
	Spec      string   `json:"spec"`
	SpecHash  string   `json:"spec_hash"`
	Classes   []string `json:"classes"`
	LabelMode string   `json:"label_mode"`
	// LabelDtype and Dtype are the NumPy types of the labels and pixels.
	LabelDtype string `json:"label_dtype"`
	Dtype      string `json:"dtype"`
	// Shape is one image's (height, width, channels).
	Shape     []int   `json:"shape"`
	ColorMode string  `json:"color_mode"`
	Source    string  `json:"source"`
	Splits    []Split `json:"splits"`
}

// ManifestFile is the name of the manifest in the output folder.
const ManifestFile = "classes.json"

// ExportImageDirectory decodes every image of the spec's image_directory
// data set at dataDir (the spec's path when empty) and writes outDir/
// {train,validation,test}_{x,y}.npy and outDir/classes.json. The pixels
// come from the runtime's ImageSource, the code the Go trainer runs:
// the same decoder, color conversion and TensorFlow-style bilinear
// resize, values in [0, 255] (the model's Rescaling scales them). x is
// (N, height, width, channels) float32 (or uint8 with opt.Uint8); y is
// described by the label mode. validation/ is exported when present; the
// files of an earlier export without it are removed.
//
// Images are decoded a few at a time and written as they come, so memory
// does not depend on the data set's size. Every file is written to a
// temporary name and renamed when complete; classes.json comes last.
func ExportImageDirectory(spec *runtime.Spec, dataDir, outDir string, opt Options) (*Manifest, error) {
	if spec.Data != "image_directory" {
		data := spec.Data
		if data == "" {
			data = "mnist"
		}
		return nil, fmt.Errorf("%s: fit's data is %s(), not image_directory(...); export-data converts image folders (train.py reads mnist()'s IDX files itself)", spec.File, data)
	}
	if dataDir == "" {
		dataDir = spec.DataPath
	}
	if opt.Log == nil {
		opt.Log = io.Discard
	}
	log := opt.Log
	train, val, test, err := runtime.LoadImageDirectory(spec, dataDir, runtime.ImageDirOptions{SkipBad: opt.SkipBad, Warn: log})
	if err != nil {
		return nil, err
	}
	shape := spec.Layers[0].Out
	m := &Manifest{
		Spec: spec.Name, SpecHash: spec.Hash, Classes: train.Classes,
		Dtype: Float32.Name(), Shape: shape, ColorMode: spec.ColorMode, Source: dataDir,
	}
	if m.ColorMode == "" {
		m.ColorMode = map[int]string{1: "grayscale", 3: "rgb", 4: "rgba"}[shape[2]]
	}
	labelType := Int64
	switch {
	case spec.Loss == "binary_crossentropy" && spec.OutputSize() == 1:
		m.LabelMode, labelType = LabelBinary, Float32
	case spec.Loss == "sparse_categorical_crossentropy":
		m.LabelMode = LabelInt
	default:
		m.LabelMode = LabelCategorical
	}
	m.LabelDtype = labelType.Name()
	pixelType := Float32
	if opt.Uint8 {
		pixelType = Uint8
		m.Dtype = Uint8.Name()
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	if err := checkOutDir(outDir); err != nil {
		return nil, err
	}
	var done []*Writer
	abort := func() {
		for _, w := range done {
			w.Abort()
		}
	}
	splits := []struct {
		name string
		src  *runtime.ImageSource
	}{{"train", train}, {"validation", val}, {"test", test}}
	for _, s := range splits {
		if s.src == nil {
			continue
		}
		sp, ws, err := exportSplit(spec, s.src, s.name, outDir, m.LabelMode, pixelType, labelType, opt)
		done = append(done, ws...)
		if err != nil {
			abort()
			return nil, err
		}
		m.Splits = append(m.Splits, sp)
		fmt.Fprintf(log, "%s: %d images (%s) -> %s %s %s, %s %s\n", s.name, sp.Count, perClass(train.Classes, sp.PerClass),
			filepath.Join(outDir, sp.X), pyShape(append([]int{sp.Count}, shape...)), m.Dtype, sp.Y, m.LabelDtype)
	}
	// The old manifest goes first and the new one comes last, so a folder
	// is never described by a manifest that its files do not match.
	manifest := filepath.Join(outDir, ManifestFile)
	if err := os.Remove(manifest); err != nil && !errors.Is(err, os.ErrNotExist) {
		abort()
		return nil, err
	}
	for _, w := range done {
		if err := w.Commit(); err != nil {
			abort()
			return nil, err
		}
	}
	if val == nil {
		for _, f := range []string{"validation_x.npy", "validation_y.npy"} {
			if err := os.Remove(filepath.Join(outDir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, err
			}
		}
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(manifest, append(data, '\n')); err != nil {
		return nil, err
	}
	return m, nil
}

// pyShape formats a shape as NumPy prints it: (10, 32, 32, 3).
func pyShape(shape []int) string {
	s := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(shape)), ", "), "[]")
	return "(" + s + ")"
}

func perClass(classes []string, n []int) string {
	s := ""
	for i, c := range classes {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%d %s", n[i], c)
	}
	return s
}

// exportSplit writes one split's x and y files under temporary names and
// returns their writers, to be committed once every split succeeded.
func exportSplit(spec *runtime.Spec, src *runtime.ImageSource, name, outDir, mode string, pixelType, labelType Dtype, opt Options) (Split, []*Writer, error) {
	n := src.Len()
	sp := Split{Name: name, Dir: src.Dir, X: name + "_x.npy", Y: name + "_y.npy", Count: n, PerClass: make([]int, len(src.Classes))}
	xw, err := Create(filepath.Join(outDir, sp.X), pixelType, append([]int{n}, spec.Layers[0].Out...))
	if err != nil {
		return sp, nil, err
	}
	yw, err := Create(filepath.Join(outDir, sp.Y), labelType, []int{n})
	if err != nil {
		xw.Abort()
		return sp, nil, err
	}
	ws := []*Writer{xw, yw}
	workers := opt.Workers
	if workers <= 0 {
		workers = goruntime.GOMAXPROCS(0)
	}
	in, out := spec.InputSize(), spec.OutputSize()
	oneHot := mode == LabelCategorical
	// A chunk of images is decoded in parallel, then written in order.
	chunk := 4 * workers
	xs := make([]float32, chunk*in)
	ys := make([]float32, chunk*out)
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		var wg sync.WaitGroup
		next := make(chan int, hi-lo)
		for i := lo; i < hi; i++ {
			next <- i
		}
		close(next)
		for range min(workers, hi-lo) {
			wg.Go(func() {
				for i := range next {
					k := i - lo
					src.Sample(i, xs[k*in:(k+1)*in], ys[k*out:(k+1)*out])
				}
			})
		}
		wg.Wait()
		if err := src.Err(); err != nil && !opt.SkipBad {
			return sp, ws, err
		}
		for k := range hi - lo {
			y := ys[k*out : (k+1)*out]
			// Sample wrote the label it served: one-hot for the
			// categorical mode (the index is that of its 1), the class
			// index in y[0] otherwise.
			class := int(y[0])
			if oneHot {
				for j, v := range y {
					if v == 1 {
						class = j
					}
				}
			}
			sp.PerClass[class]++
			if err := xw.Write(xs[k*in : (k+1)*in]); err != nil {
				return sp, ws, err
			}
			if err := yw.Write([]float32{float32(class)}); err != nil {
				return sp, ws, err
			}
		}
	}
	if r := src.Replaced(); r > 0 {
		fmt.Fprintf(opt.Log, "warning: %d images of %s did not decode and were replaced by the next image, as the trainer does (-skip-bad-images); first: %v\n", r, src.Dir, src.Err())
	}
	return sp, ws, nil
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it over path.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(fileMode())
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// exportFiles are the files ExportImageDirectory writes in its folder.
var exportFiles = []string{ManifestFile, "train_x.npy", "train_y.npy", "validation_x.npy", "validation_y.npy", "test_x.npy", "test_y.npy"}

// checkOutDir refuses a folder that holds files export-data did not write,
// since an export replaces and removes its own files there, and removes
// the temporary files of an export that was killed.
func checkOutDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var other []string
	for _, e := range entries {
		name := e.Name()
		own := slices.Contains(exportFiles, name)
		for _, f := range exportFiles {
			if strings.HasPrefix(name, "."+f+".tmp") && e.Type().IsRegular() {
				os.Remove(filepath.Join(dir, name))
				own = true
			}
		}
		if !own {
			other = append(other, name)
		}
	}
	if len(other) > 0 {
		if len(other) > 5 {
			other = append(other[:5], "...")
		}
		return fmt.Errorf("%s holds files that export-data did not write (%s); export into a new or empty folder, or one that an earlier export wrote", dir, strings.Join(other, ", "))
	}
	return nil
}
