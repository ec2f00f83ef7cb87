package runtime

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"
)

// NamedTensor is one float32 tensor of a safetensors file. Data holds the
// elements in row-major order, so len(Data) is the product of Shape (1 for a
// scalar, whose Shape is empty).
type NamedTensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// maxSafetensorsHeader is the largest header ReadSafetensors accepts. The
// reference implementation uses the same 100 MB limit, which keeps a corrupt
// length field from making us allocate the whole address space.
const maxSafetensorsHeader = 100 << 20

// WriteSafetensors writes tensors to path in the safetensors format: an
// 8-byte little-endian header length, a JSON header padded with spaces to a
// multiple of 8 bytes, then the raw little-endian float32 data of each
// tensor, in the order given. Metadata, if any, is stored under
// "__metadata__". The file is replaced atomically (see WriteFileAtomic), so
// on error an existing file at path is left as it was.
func WriteSafetensors(path string, tensors []NamedTensor, metadata map[string]string) error {
	seen := make(map[string]bool, len(tensors))
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	first := true
	sep := func() {
		if !first {
			hdr.WriteByte(',')
		}
		first = false
	}
	if len(metadata) > 0 {
		m, err := json.Marshal(metadata) // encoding/json sorts the keys
		if err != nil {
			return fmt.Errorf("write %s: encoding metadata: %v", path, err)
		}
		sep()
		hdr.WriteString(`"__metadata__":`)
		hdr.Write(m)
	}
	var offset int64
	for i, t := range tensors {
		switch {
		case t.Name == "":
			return fmt.Errorf("write %s: tensor %d has an empty name", path, i)
		case t.Name == "__metadata__":
			return fmt.Errorf("write %s: tensor %d is named __metadata__, which safetensors reserves for metadata", path, i)
		case !utf8.ValidString(t.Name):
			return fmt.Errorf("write %s: tensor %d has a name that is not valid UTF-8: %q", path, i, t.Name)
		case seen[t.Name]:
			return fmt.Errorf("write %s: two tensors are named %q", path, t.Name)
		}
		seen[t.Name] = true
		n, err := shapeElems(t.Shape)
		if err != nil {
			return fmt.Errorf("write %s: tensor %q: %v", path, t.Name, err)
		}
		if n != int64(len(t.Data)) {
			return fmt.Errorf("write %s: tensor %q has shape %v (%d elements) but %d values", path, t.Name, t.Shape, n, len(t.Data))
		}
		name, _ := json.Marshal(t.Name)
		sep()
		hdr.Write(name)
		hdr.WriteString(`:{"dtype":"F32","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			fmt.Fprint(&hdr, d)
		}
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, offset, offset+4*n)
		offset += 4 * n
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}

	buf := make([]byte, 8, 8+int64(hdr.Len())+offset)
	binary.LittleEndian.PutUint64(buf, uint64(hdr.Len()))
	buf = append(buf, hdr.Bytes()...)
	for _, t := range tensors {
		for _, v := range t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	return WriteFileAtomic(path, buf)
}

// shapeElems returns the number of elements of shape, rejecting negative
// dimensions and products that do not fit in memory.
func shapeElems(shape []int) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d != 0 && n > (math.MaxInt32*4)/int64(d) {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= int64(d)
	}
	return n, nil
}

// stTensorHeader is one tensor's entry in a safetensors header.
type stTensorHeader struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets []uint64 `json:"data_offsets"`
}

// ReadSafetensors reads a safetensors file written by WriteSafetensors or by
// any other writer, as long as every tensor is F32. It returns the tensors in
// the order of their data in the file, and the header's "__metadata__" (nil
// if there is none). Every part of the file is validated: the header length,
// the JSON, each dtype, shape and data range, and that the data ranges cover
// the data section exactly, without overlaps or holes. Errors name the file.
func ReadSafetensors(path string) ([]NamedTensor, map[string]string, error) {
	raw, err := readRegular(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseSafetensors(path, raw)
}

// ParseSafetensors parses the bytes of a safetensors file, as
// ReadSafetensors does; path names the data in errors. The tensors' data
// does not alias raw.
func ParseSafetensors(path string, raw []byte) ([]NamedTensor, map[string]string, error) {
	return parseSafetensors(path, raw, false)
}

// ReadSafetensorsWidened reads a safetensors file as ReadSafetensors does,
// but also accepts tensors of dtype F16, BF16 and F64, as published
// weights often are, and converts them to float32.
func ReadSafetensorsWidened(path string) ([]NamedTensor, map[string]string, error) {
	raw, err := readRegular(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %v", path, unwrapPathError(err))
	}
	return parseSafetensors(path, raw, true)
}

// dtypeSize is the bytes per element of the dtypes a widened read accepts.
var dtypeSize = map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8}

func parseSafetensors(path string, raw []byte, wide bool) ([]NamedTensor, map[string]string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: not a valid safetensors file: %s", path, fmt.Sprintf(format, args...))
	}
	if len(raw) < 8 {
		return nil, nil, bad("file is %d bytes, shorter than the 8-byte header length; the file is truncated", len(raw))
	}
	hlen := binary.LittleEndian.Uint64(raw)
	if hlen > uint64(len(raw)-8) {
		return nil, nil, bad("header length %d is larger than the rest of the file (%d bytes); the file is truncated or is not safetensors", hlen, len(raw)-8)
	}
	if hlen > maxSafetensorsHeader {
		return nil, nil, bad("header length %d is larger than the %d-byte limit", hlen, maxSafetensorsHeader)
	}
	header := raw[8 : 8+hlen]
	data := raw[8+hlen:]
	if len(bytes.TrimSpace(header)) == 0 || header[0] != '{' {
		return nil, nil, bad("header does not start with '{'")
	}
	if !utf8.Valid(header) {
		return nil, nil, bad("header is not valid UTF-8")
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(header, &entries); err != nil {
		return nil, nil, bad("header is not a JSON object: %v", err)
	}

	var metadata map[string]string
	if m, ok := entries["__metadata__"]; ok {
		if err := json.Unmarshal(m, &metadata); err != nil {
			return nil, nil, bad("__metadata__ is not an object of strings: %v", err)
		}
		delete(entries, "__metadata__")
	}

	type span struct {
		name       string
		begin, end uint64
		shape      []int
		dtype      string
	}
	spans := make([]span, 0, len(entries))
	for name, msg := range entries {
		var h stTensorHeader
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&h); err != nil {
			return nil, nil, bad("tensor %q: %v", name, err)
		}
		switch {
		case h.DType == "":
			return nil, nil, bad("tensor %q has no dtype", name)
		case h.DType != "F32" && !wide:
			return nil, nil, bad("tensor %q has dtype %s; only F32 is supported (convert the weights to float32)", name, h.DType)
		case dtypeSize[h.DType] == 0:
			return nil, nil, bad("tensor %q has dtype %s; only F32, F16, BF16 and F64 are supported", name, h.DType)
		case h.Shape == nil:
			return nil, nil, bad("tensor %q has no shape", name)
		case len(h.DataOffsets) != 2:
			return nil, nil, bad("tensor %q: data_offsets must be [begin, end], got %v", name, h.DataOffsets)
		}
		begin, end := h.DataOffsets[0], h.DataOffsets[1]
		if begin > end || end > uint64(len(data)) {
			return nil, nil, bad("tensor %q: data_offsets [%d, %d] are out of range of the %d-byte data section", name, begin, end, len(data))
		}
		n, err := shapeElems(h.Shape)
		if err != nil {
			return nil, nil, bad("tensor %q: %v", name, err)
		}
		size := int64(dtypeSize[h.DType])
		if uint64(size*n) != end-begin {
			return nil, nil, bad("tensor %q: shape %v needs %d bytes of %s data but data_offsets [%d, %d] hold %d", name, h.Shape, size*n, h.DType, begin, end, end-begin)
		}
		spans = append(spans, span{name, begin, end, h.Shape, h.DType})
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.begin != b.begin {
			if a.begin < b.begin {
				return -1
			}
			return 1
		}
		if a.end != b.end {
			if a.end < b.end {
				return -1
			}
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	var pos uint64
	for i, s := range spans {
		if s.begin < pos {
			return nil, nil, bad("tensors %q and %q overlap (bytes %d to %d)", spans[i-1].name, s.name, s.begin, pos)
		}
		if s.begin > pos {
			return nil, nil, bad("bytes %d to %d of the data section belong to no tensor", pos, s.begin)
		}
		pos = s.end
	}
	if pos != uint64(len(data)) {
		return nil, nil, bad("bytes %d to %d of the data section belong to no tensor", pos, len(data))
	}

	tensors := make([]NamedTensor, len(spans))
	for i, s := range spans {
		b := data[s.begin:s.end]
		vals := make([]float32, len(b)/dtypeSize[s.dtype])
		for j := range vals {
			switch s.dtype {
			case "F32":
				vals[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			case "F64":
				vals[j] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:])))
			case "BF16":
				vals[j] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*j:])) << 16)
			case "F16":
				vals[j] = halfToFloat32(binary.LittleEndian.Uint16(b[2*j:]))
			}
		}
		shape := s.shape
		if len(shape) == 0 {
			shape = nil
		}
		tensors[i] = NamedTensor{Name: s.name, Shape: shape, Data: vals}
	}
	return tensors, metadata, nil
}

// WriteFileAtomic writes data to path so that path holds either its old
// contents or all of data, never a mix: it writes a temporary file in the
// same directory, syncs it to disk, and renames it over path. On error the
// temporary file is removed and path is untouched. A new file gets mode 0644;
// an existing file keeps its mode.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if base == "" {
		return fmt.Errorf("write %s: the path names a directory, not a file", path)
	}
	mode := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("write %s: a directory is in the way", path)
		}
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %v", path, unwrapPathError(err))
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %v", path, unwrapPathError(err))
	}
	if err := f.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %v", path, unwrapPathError(err))
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %v", path, unwrapPathError(err))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %v", path, unwrapPathError(err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %v", path, unwrapPathError(err))
	}
	// Make the rename itself durable. Not every platform can sync a
	// directory, and the data is already safe, so errors are ignored.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// unwrapPathError drops the path from an *os.PathError or *os.LinkError,
// whose path is the temporary file's, so that the message names only the
// file the caller asked for.
func unwrapPathError(err error) error {
	switch e := err.(type) {
	case *os.PathError:
		return e.Err
	case *os.LinkError:
		return e.Err
	}
	return err
}

// halfToFloat32 converts an IEEE 754 half-precision float to float32.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp != 0:
		return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
	case frac == 0:
		return math.Float32frombits(sign)
	}
	// Subnormal: frac * 2^-24.
	f := float32(frac) / (1 << 24)
	if sign != 0 {
		f = -f
	}
	return f
}

// RemoveStaleTemps removes the temporary files that WriteFileAtomic leaves
// next to path when its process is killed mid-write (".NAME.tmp-*"), and
// returns their names. Call it only when no other writer of path runs: a
// trainer does at its start, for the files it will write.
func RemoveStaleTemps(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	prefix := "." + base + ".tmp-"
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			p := filepath.Join(dir, e.Name())
			if os.Remove(p) == nil {
				removed = append(removed, p)
			}
		}
	}
	return removed
}

// readRegular reads a regular file: a device such as /dev/zero or a pipe
// could be read without end.
func readRegular(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s); pass a .safetensors file", path, fi.Mode().Type())
	}
	return os.ReadFile(path)
}

// CheckFinite reports the first tensor of a file that holds a NaN or an
// infinity, naming the file, the tensor and the element: such weights
// would make every prediction and every loss NaN.
func CheckFinite(path string, ts []NamedTensor) error {
	for _, t := range ts {
		for i, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("%s: tensor %s holds %v at element %d; weights must be finite numbers", path, t.Name, v, i)
			}
		}
	}
	return nil
}

// SafetensorsMetadata reads only the header of a safetensors file and
// returns its "__metadata__", without reading the tensors.
func SafetensorsMetadata(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var n [8]byte
	if _, err := io.ReadFull(f, n[:]); err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file: %v", path, err)
	}
	hlen := binary.LittleEndian.Uint64(n[:])
	if hlen > maxSafetensorsHeader {
		return nil, fmt.Errorf("%s: not a safetensors file: header length %d", path, hlen)
	}
	header := make([]byte, hlen)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file: %v", path, err)
	}
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(header, &h); err != nil {
		return nil, fmt.Errorf("%s: not a safetensors file: %v", path, err)
	}
	return h.Meta, nil
}
