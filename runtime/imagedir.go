package runtime

import (
	"bytes"
	"fmt"
	"image"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// imageExtensions are the file extensions that Keras's
// image_dataset_from_directory reads (compared in lower case); other files
// in a class folder are ignored, as Keras ignores them.
var imageExtensions = []string{".bmp", ".gif", ".jpeg", ".jpg", ".png"}

// maxImageSize bounds image_size: a 4096x4096x4 float32 input is already
// 256 MiB per sample.
const maxImageSize = 4096

// ImageDirOptions configures LoadImageDirectory.
type ImageDirOptions struct {
	// SkipBad leaves out files that cannot be read (the trainer's
	// -skip-bad-images), counting them and warning, instead of failing.
	SkipBad bool
	// Warn receives the warnings about skipped files; nil discards them.
	Warn io.Writer
}

// ImageSource serves one split (train/, validation/ or test/) of an
// image_directory data set. It holds only the file names and labels: each
// Sample call opens, decodes and resizes its file, so memory does not grow
// with the number of images. The trainer calls Sample from one goroutine
// per worker, so decoding runs on every core, each worker decoding the
// sample it is about to train on.
type ImageSource struct {
	// Dir is the split's folder, such as cats_vs_dogs_small/train.
	Dir string
	// Classes are the class names, the sorted subfolder names; a sample's
	// class is its index here.
	Classes []string
	files   []string
	labels  []int
	h, w, c int
	onehot  int // number of classes for one-hot labels, 0 for a class index
	skipBad bool

	mu  sync.Mutex
	err error // the first decoding failure during training
	// bad marks files that failed to decode during training (with
	// skipBad); Replaced counts the samples served in their place.
	bad      sync.Map
	replaced atomic.Int64
}

// LoadImageDirectory lists the splits of an image_directory data set at
// dir, with the layout of listing 8-6: dir/train, dir/validation and
// dir/test, each with one subfolder per class. train/ and test/ are
// required, validation/ is optional (val is nil without it). Every split
// must have the same classes as train/. Every image file is checked before
// training starts, cheaply (its header and, for JPEG and PNG, its end
// marker), so that a damaged or mislabeled file is reported with its name
// at once; with SkipBad such files are left out with a warning.
func LoadImageDirectory(spec *Spec, dir string, opt ImageDirOptions) (train, val, test *ImageSource, err error) {
	if opt.Warn == nil {
		opt.Warn = io.Discard
	}
	h, w := spec.ImageSize[0], spec.ImageSize[1]
	if h > maxImageSize || w > maxImageSize {
		return nil, nil, nil, fmt.Errorf("image_size=(%d, %d) is larger than %d; Keras-sized models take at most a few hundred pixels per side", h, w, maxImageSize)
	}
	in := spec.Layers[0].Out
	if len(in) != 3 || h <= 0 || w <= 0 || in[0] != h || in[1] != w {
		return nil, nil, nil, fmt.Errorf("image_directory with image_size=(%d, %d) does not fit the %s model's input %s", h, w, spec.Name, shapeStr(in))
	}
	c := in[2]
	if want := map[string]int{"grayscale": 1, "rgb": 3, "rgba": 4}[spec.ColorMode]; want != 0 && want != c {
		return nil, nil, nil, fmt.Errorf("color_mode=%q gives %d channels, the %s model's input has %d", spec.ColorMode, want, spec.Name, c)
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		where := ""
		if !filepath.IsAbs(dir) {
			// Paths in a spec resolve against the folder the trainer runs
			// in, as Keras's do; say which folder that was.
			if wd, err := os.Getwd(); err == nil {
				where = fmt.Sprintf(" (looked for %s: a relative path resolves against the folder the trainer runs in; run it from another folder or pass -data)", filepath.Join(wd, dir))
			}
		}
		return nil, nil, nil, fmt.Errorf("%s: no such data folder%s; it needs train/, validation/ and test/ subfolders with one folder per class (convc split makes them)", dir, where)
	}
	load := func(split string, required bool) (*ImageSource, error) {
		d := filepath.Join(dir, split)
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			if required {
				return nil, fmt.Errorf("%s: missing %s/ folder; %s needs train/, validation/ and test/ subfolders with one folder per class", d, split, dir)
			}
			return nil, nil
		}
		s, err := newImageSource(spec, d, h, w, c, opt)
		return s, err
	}
	if train, err = load("train", true); err != nil {
		return nil, nil, nil, err
	}
	if err := checkClasses(spec, train); err != nil {
		return nil, nil, nil, err
	}
	if val, err = load("validation", false); err != nil {
		return nil, nil, nil, err
	}
	if test, err = load("test", true); err != nil {
		return nil, nil, nil, err
	}
	for _, s := range []*ImageSource{val, test} {
		if s != nil && !slices.Equal(s.Classes, train.Classes) {
			return nil, nil, nil, fmt.Errorf("%s has the classes %s, but %s has %s; every split needs the same class folders",
				s.Dir, strings.Join(s.Classes, ", "), train.Dir, strings.Join(train.Classes, ", "))
		}
		if s != nil {
			// checkClasses chose the label mode on train/; every split
			// serves the same labels.
			s.onehot = train.onehot
		}
	}
	return train, val, test, nil
}

// checkClasses checks that the classes fit the model's output and loss,
// as image_dataset_from_directory's label_mode does: "binary" (0/1 floats,
// exactly two classes) for a one-unit sigmoid output, "int" (the class
// index) for sparse categorical cross-entropy, and "categorical" (one-hot)
// otherwise.
func checkClasses(spec *Spec, s *ImageSource) error {
	n, out := len(s.Classes), spec.OutputSize()
	names := strings.Join(s.Classes, ", ")
	switch {
	case spec.Loss == "binary_crossentropy" && out == 1:
		if n != 2 {
			return fmt.Errorf("%s has %d classes (%s); a model with one sigmoid output and binary_crossentropy needs exactly 2", s.Dir, n, names)
		}
	default:
		if n != out {
			return fmt.Errorf("%s has %d classes (%s), but the %s model's output has %d units; make them agree", s.Dir, n, names, spec.Name, out)
		}
		if spec.Loss != "sparse_categorical_crossentropy" {
			s.onehot = n
		}
	}
	return nil
}

func newImageSource(spec *Spec, dir string, h, w, c int, opt ImageDirOptions) (*ImageSource, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	s := &ImageSource{Dir: dir, h: h, w: w, c: c, skipBad: opt.SkipBad}
	for _, e := range entries {
		if e.IsDir() {
			s.Classes = append(s.Classes, e.Name())
		}
	}
	if len(s.Classes) == 0 {
		return nil, fmt.Errorf("%s has no class folders; put each class's images in a subfolder, such as %s", dir, filepath.Join(dir, "cat"))
	}
	// os.ReadDir sorts by name, so Classes is sorted, as Keras sorts
	// class_names.
	for ci, class := range s.Classes {
		cdir := filepath.Join(dir, class)
		n := len(s.files)
		err := filepath.WalkDir(cdir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Type().IsRegular() && slices.Contains(imageExtensions, strings.ToLower(filepath.Ext(p))) {
				s.files = append(s.files, p)
				s.labels = append(s.labels, ci)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(s.files) == n {
			return nil, fmt.Errorf("%s has no images (files ending in %s); every class folder needs at least one", cdir, strings.Join(imageExtensions, ", "))
		}
	}
	bad := checkImageFiles(s.files)
	if len(bad) == 0 {
		return s, nil
	}
	if !opt.SkipBad {
		msgs := make([]string, 0, 10)
		for i, e := range bad {
			if i == 10 {
				msgs = append(msgs, fmt.Sprintf("and %d more", len(bad)-10))
				break
			}
			msgs = append(msgs, e.Error())
		}
		return nil, fmt.Errorf("%d of the %d images in %s cannot be read (pass -skip-bad-images to train without them):\n\t%s", len(bad), len(s.files), dir, strings.Join(msgs, "\n\t"))
	}
	skip := make(map[int]bool, len(bad))
	for _, e := range bad {
		skip[e.index] = true
		fmt.Fprintf(opt.Warn, "warning: skipping %v\n", e)
	}
	files, labels := s.files[:0], s.labels[:0]
	count := make([]int, len(s.Classes))
	for i, f := range s.files {
		if !skip[i] {
			files, labels = append(files, f), append(labels, s.labels[i])
			count[s.labels[i]]++
		}
	}
	s.files, s.labels = files, labels
	fmt.Fprintf(opt.Warn, "warning: skipped %d bad images of %d in %s (-skip-bad-images)\n", len(bad), len(bad)+len(files), dir)
	for ci, n := range count {
		if n == 0 {
			return nil, fmt.Errorf("%s has no readable images left after skipping the bad ones", filepath.Join(dir, s.Classes[ci]))
		}
	}
	return s, nil
}

// fileError is a problem with the file at index in a file list.
type fileError struct {
	index int
	err   error
}

func (e fileError) Error() string { return e.err.Error() }

// checkImageFiles checks every file cheaply, in parallel, and returns the
// problems in file order.
func checkImageFiles(files []string) []fileError {
	errs := make([]error, len(files))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(goruntime.NumCPU(), 8)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(files) {
					return
				}
				errs[i] = checkImageFile(files[i])
			}
		})
	}
	wg.Wait()
	var bad []fileError
	for i, err := range errs {
		if err != nil {
			bad = append(bad, fileError{i, err})
		}
	}
	return bad
}

// checkImageFile reads an image's header and, for JPEG and PNG, looks for
// the end marker in the file's last KiB, which a truncated file lacks.
// Damage in the middle of the compressed data shows only when the image is
// decoded during training (see Sample).
func checkImageFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	cfg, format, err := image.DecodeConfig(f)
	if err != nil {
		return decodeError(path, "", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return fmt.Errorf("%s: the %s image has no pixels (%dx%d)", path, format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > maxImagePixels {
		return fmt.Errorf("%s: the %s image is %dx%d, larger than the %d-pixel limit; shrink it first", path, format, cfg.Width, cfg.Height, maxImagePixels)
	}
	var marker []byte
	switch format {
	case "jpeg":
		marker = []byte{0xff, 0xd9} // EOI
	case "png":
		marker = []byte("IEND")
	default:
		return nil
	}
	st, err := f.Stat()
	if err != nil {
		return err
	}
	off := max(0, st.Size()-1024)
	tail := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(tail, off); err != nil && err != io.EOF {
		return err
	}
	if !bytes.Contains(tail, marker) {
		return fmt.Errorf("%s: the %s image is truncated (it has no end marker); the file is incomplete or damaged", path, format)
	}
	return nil
}

// Len returns the number of images.
func (s *ImageSource) Len() int { return len(s.files) }

// Files returns the image files in sample order.
func (s *ImageSource) Files() []string { return s.files }

// Label returns the class index of sample i.
func (s *ImageSource) Label(i int) int { return s.labels[i] }

// Sample decodes image i into x (h x w x c, values in [0, 255]) and writes
// its label into y: the class index (0 or 1 for binary labels) or one-hot.
//
// A file that passed the checks of LoadImageDirectory but fails to decode
// is an error that Err reports; x is then zero. With SkipBad the next
// readable image (in file order, wrapping around) is served in its place,
// with its own label, and Replaced counts it.
func (s *ImageSource) Sample(i int, x, y []float32) {
	j := i
	for range len(s.files) {
		if _, bad := s.bad.Load(j); !bad {
			px, err := LoadImageFile(s.files[j], s.h, s.w, s.c, 1)
			if err == nil {
				copy(x, px)
				s.label(j, y)
				if j != i {
					s.replaced.Add(1)
				}
				return
			}
			if !s.skipBad {
				s.setErr(err)
				break
			}
			s.bad.Store(j, true)
			s.setErr(err)
		}
		j = (j + 1) % len(s.files)
	}
	clear(x)
	s.label(i, y)
}

func (s *ImageSource) label(i int, y []float32) {
	if s.onehot > 0 {
		clear(y[:s.onehot])
		y[s.labels[i]] = 1
		return
	}
	y[0] = float32(s.labels[i])
}

func (s *ImageSource) setErr(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

// Err returns the first image that failed to decode during training, or
// nil. With SkipBad such images were replaced, and Err is only for
// reporting.
func (s *ImageSource) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Replaced returns how many samples were served by another image because
// theirs failed to decode (with SkipBad).
func (s *ImageSource) Replaced() int { return int(s.replaced.Load()) }

// errSource is a source that can fail after loading, such as ImageSource.
type errSource interface{ Err() error }

// sourceErr returns the first error of sources that can fail, skipping
// those with SkipBad, whose failures were replaced.
func sourceErr(srcs ...Source) error {
	for _, s := range srcs {
		if is, ok := s.(*ImageSource); ok && is.skipBad {
			continue
		}
		if es, ok := s.(errSource); ok {
			if err := es.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// warnReplaced warns about the images that failed to decode during
// training and were replaced (with -skip-bad-images).
func warnReplaced(w io.Writer, srcs ...Source) {
	for _, s := range srcs {
		if is, ok := s.(*ImageSource); ok && is.Replaced() > 0 {
			fmt.Fprintf(w, "warning: %d samples of %s were served by another image because theirs did not decode (-skip-bad-images); first: %v\n", is.Replaced(), is.Dir, is.Err())
		}
	}
}
