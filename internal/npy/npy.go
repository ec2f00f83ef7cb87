package npy

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Dtype is an element type of a .npy file, with its NumPy descr.
type Dtype string

// The element types Writer writes, little-endian.
const (
	Uint8   Dtype = "|u1"
	Float32 Dtype = "<f4"
	Int64   Dtype = "<i8"
)

// Size returns the bytes of one element.
func (d Dtype) Size() int {
	switch d {
	case Uint8:
		return 1
	case Float32:
		return 4
	case Int64:
		return 8
	}
	return 0
}

// Name returns NumPy's name of the type: uint8, float32 or int64.
func (d Dtype) Name() string {
	switch d {
	case Uint8:
		return "uint8"
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	}
	return string(d)
}

// Header returns the header of a version 1.0 .npy file of a C-order array:
// the magic string, the version, the header length and the header dict,
// padded with spaces and a newline to a multiple of 64 bytes, as NumPy
// writes it.
func Header(dtype Dtype, shape []int) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = strconv.Itoa(d)
	}
	tuple := "(" + strings.Join(dims, ", ") + ")"
	if len(shape) == 1 {
		tuple = "(" + dims[0] + ",)"
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", dtype, tuple)
	pad := 64 - (10+len(dict)+1)%64
	if pad == 64 {
		pad = 0
	}
	dict += strings.Repeat(" ", pad) + "\n"
	h := make([]byte, 10, 10+len(dict))
	copy(h, "\x93NUMPY\x01\x00")
	binary.LittleEndian.PutUint16(h[8:], uint16(len(dict)))
	return append(h, dict...)
}

// Writer writes one .npy file element by element, atomically: into a
// temporary file next to the target, renamed over it by Commit. The shape
// is fixed up front, so the header comes first and memory does not grow
// with the array.
type Writer struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	dtype     Dtype
	want, n   int64 // elements declared and written
	buf       [8]byte
	err       error
}

// Create starts the .npy file path holding a C-order array of shape.
func Create(path string, dtype Dtype, shape []int) (*Writer, error) {
	if dtype.Size() == 0 {
		return nil, fmt.Errorf("%s: unsupported dtype %q", path, dtype)
	}
	want := int64(1)
	for _, d := range shape {
		want *= int64(d)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	w := &Writer{path: path, tmp: f.Name(), f: f, w: bufio.NewWriterSize(f, 1<<20), dtype: dtype, want: want}
	_, w.err = w.w.Write(Header(dtype, shape))
	return w, nil
}

// Write appends values, converted to the file's dtype: uint8 values are
// rounded to the nearest integer and clamped to [0, 255], int64 values
// truncated.
func (w *Writer) Write(values []float32) error {
	if w.err != nil {
		return w.err
	}
	if w.n+int64(len(values)) > w.want {
		w.err = fmt.Errorf("%s: writing more than the %d elements of its shape", w.path, w.want)
		return w.err
	}
	for _, v := range values {
		switch w.dtype {
		case Uint8:
			w.err = w.w.WriteByte(uint8(math.Round(float64(min(255, max(0, v))))))
		case Float32:
			binary.LittleEndian.PutUint32(w.buf[:], math.Float32bits(v))
			_, w.err = w.w.Write(w.buf[:4])
		case Int64:
			binary.LittleEndian.PutUint64(w.buf[:], uint64(int64(v)))
			_, w.err = w.w.Write(w.buf[:8])
		}
		if w.err != nil {
			w.err = fmt.Errorf("%s: %v", w.tmp, w.err)
			return w.err
		}
	}
	w.n += int64(len(values))
	return nil
}

// Commit flushes the file, checks that every element was written and
// renames it to its path.
func (w *Writer) Commit() error {
	if w.err == nil && w.n != w.want {
		w.err = fmt.Errorf("%s: wrote %d of the %d elements of its shape", w.path, w.n, w.want)
	}
	if w.err == nil {
		w.err = w.w.Flush()
	}
	if w.err == nil {
		w.err = w.f.Chmod(fileMode())
	}
	if w.err == nil {
		w.err = w.f.Sync()
	}
	if err := w.f.Close(); w.err == nil {
		w.err = err
	}
	if w.err == nil {
		w.err = os.Rename(w.tmp, w.path)
	}
	if w.err != nil {
		os.Remove(w.tmp)
	}
	return w.err
}

// Abort removes the temporary file; it does nothing after Commit.
func (w *Writer) Abort() {
	w.f.Close()
	os.Remove(w.tmp)
}

// ReadHeader reads the header of a version 1.x .npy file and returns its
// dtype and shape, leaving r at the first element. It accepts C-order
// arrays only.
func ReadHeader(r io.Reader) (Dtype, []int, error) {
	var pre [10]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return "", nil, fmt.Errorf("not a .npy file: %v", err)
	}
	if string(pre[:6]) != "\x93NUMPY" || pre[6] != 1 {
		return "", nil, fmt.Errorf("not a version 1 .npy file")
	}
	dict := make([]byte, binary.LittleEndian.Uint16(pre[8:]))
	if _, err := io.ReadFull(r, dict); err != nil {
		return "", nil, fmt.Errorf("short .npy header: %v", err)
	}
	s := string(dict)
	field := func(key string) string {
		i := strings.Index(s, "'"+key+"': ")
		if i < 0 {
			return ""
		}
		return s[i+len(key)+4:]
	}
	descr, _, _ := strings.Cut(strings.TrimPrefix(field("descr"), "'"), "'")
	if !strings.HasPrefix(field("fortran_order"), "False") {
		return "", nil, fmt.Errorf(".npy file is not in C order")
	}
	tuple, _, ok := strings.Cut(strings.TrimPrefix(field("shape"), "("), ")")
	if !ok {
		return "", nil, fmt.Errorf(".npy header has no shape: %s", s)
	}
	var shape []int
	for _, d := range strings.Split(tuple, ",") {
		if d = strings.TrimSpace(d); d == "" {
			continue
		}
		n, err := strconv.Atoi(d)
		if err != nil {
			return "", nil, fmt.Errorf(".npy header has a bad shape: %s", s)
		}
		shape = append(shape, n)
	}
	return Dtype(descr), shape, nil
}
