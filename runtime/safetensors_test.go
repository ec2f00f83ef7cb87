package runtime

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleTensors() []NamedTensor {
	return []NamedTensor{
		{Name: "conv2d/kernel", Shape: []int{3, 3, 1, 2}, Data: seq(18, 0.25)},
		{Name: "conv2d/bias", Shape: []int{2}, Data: []float32{-1.5, float32(math.Inf(1))}},
		{Name: "dense/kernel", Shape: []int{4, 3}, Data: seq(12, -0.125)},
		{Name: "empty", Shape: []int{0, 5}, Data: nil},
		{Name: "scalar", Shape: nil, Data: []float32{42}},
		{Name: "ünïcode", Shape: []int{1}, Data: []float32{1e-30}},
	}
}

func seq(n int, step float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(i)*step + 0.5
	}
	return s
}

func TestSafetensorsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	want := sampleTensors()
	meta := map[string]string{"format": "pt", "convc_model": "mnist"}
	if err := WriteSafetensors(path, want, meta); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	hlen := binary.LittleEndian.Uint64(raw)
	if hlen%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hlen)
	}
	got, gotMeta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotMeta, meta) {
		t.Errorf("metadata = %v, want %v", gotMeta, meta)
	}
	for i := range want {
		if len(want[i].Data) == 0 {
			want[i].Data = []float32{}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tensors differ:\ngot  %v\nwant %v", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the weights file (a temporary file was left behind?)", len(entries))
	}
}

// TestSafetensorsPython checks our files against an independent reader: a
// stdlib-only Python script that follows the format's specification.
func TestSafetensorsPython(t *testing.T) {
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			t.Skip("python3 not found")
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	tensors := sampleTensors()
	if err := WriteSafetensors(path, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	script := `
import json, math, struct, sys
raw = open(sys.argv[1], "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
assert n % 8 == 0, "header length not aligned"
header = json.loads(raw[8:8+n].decode("utf-8"))
data = raw[8+n:]
meta = header.pop("__metadata__", {})
out = {"__metadata__": meta, "order": []}
covered = 0
for name, t in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
    assert set(t) == {"dtype", "shape", "data_offsets"}, t
    assert t["dtype"] == "F32"
    b, e = t["data_offsets"]
    assert b == covered, (name, b, covered)
    covered = e
    count = 1
    for d in t["shape"]:
        count *= d
    assert e - b == 4 * count
    vals = list(struct.unpack("<%df" % count, data[b:e]))
    out["order"].append(name)
    out[name] = {"shape": t["shape"], "data": [v if math.isfinite(v) else str(v) for v in vals]}
assert covered == len(data)
print(json.dumps(out))
`
	cmd := exec.Command(py, "-c", script, path)
	outb, err := cmd.Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("python reader failed: %v\n%s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(outb, &out); err != nil {
		t.Fatalf("%v: %s", err, outb)
	}
	var order []string
	json.Unmarshal(out["order"], &order)
	var wantOrder []string
	for _, tt := range tensors {
		wantOrder = append(wantOrder, tt.Name)
	}
	if !reflect.DeepEqual(order, wantOrder) {
		t.Errorf("python sees order %v, want %v", order, wantOrder)
	}
	if string(out["__metadata__"]) != `{"format": "pt"}` {
		t.Errorf("python sees metadata %s", out["__metadata__"])
	}
	for _, tt := range tensors {
		var got struct {
			Shape []int
			Data  []any
		}
		if err := json.Unmarshal(out[tt.Name], &got); err != nil {
			t.Fatalf("%s: %v", tt.Name, err)
		}
		if len(got.Shape) != len(tt.Shape) || (len(tt.Shape) > 0 && !reflect.DeepEqual(got.Shape, tt.Shape)) {
			t.Errorf("%s: python sees shape %v, want %v", tt.Name, got.Shape, tt.Shape)
		}
		if len(got.Data) != len(tt.Data) {
			t.Errorf("%s: python sees %d values, want %d", tt.Name, len(got.Data), len(tt.Data))
			continue
		}
		for i, v := range tt.Data {
			switch g := got.Data[i].(type) {
			case float64:
				if float32(g) != v || g != float64(v) {
					t.Errorf("%s[%d]: python sees %v, want %v", tt.Name, i, g, v)
				}
			case string:
				if g != "inf" || !math.IsInf(float64(v), 1) {
					t.Errorf("%s[%d]: python sees %v, want %v", tt.Name, i, g, v)
				}
			}
		}
	}
}

// handBuilt returns a safetensors file laid out byte by byte, the way the
// specification describes it, independent of WriteSafetensors.
func handBuilt(header string, data []byte) []byte {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func f32bytes(vs ...float32) []byte {
	var b []byte
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestSafetensorsReadHandBuilt(t *testing.T) {
	// Keys out of data order, extra whitespace, unaligned header: all legal.
	header := `{"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}, "a" : {"shape":[1,2],"dtype":"F32","data_offsets":[0,8]},"__metadata__":{"k":"v"}}   `
	data := f32bytes(1, 2, 3.5, -4)
	path := filepath.Join(t.TempDir(), "h.safetensors")
	os.WriteFile(path, handBuilt(header, data), 0o644)
	got, meta, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []NamedTensor{
		{Name: "a", Shape: []int{1, 2}, Data: []float32{1, 2}},
		{Name: "b", Shape: []int{2}, Data: []float32{3.5, -4}},
	}
	if !reflect.DeepEqual(got, want) || meta["k"] != "v" {
		t.Errorf("got %v %v, want %v", got, meta, want)
	}
}

func TestSafetensorsBadInput(t *testing.T) {
	ok := `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	eight := f32bytes(1, 2)
	lenOnly := func(n uint64, rest string) []byte {
		b := binary.LittleEndian.AppendUint64(nil, n)
		return append(b, rest...)
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"empty", nil, "file is 0 bytes, shorter than the 8-byte header length; the file is truncated"},
		{"short", []byte{1, 2, 3}, "file is 3 bytes"},
		{"header too long", lenOnly(1000, "{}"), "header length 1000 is larger than the rest of the file (2 bytes)"},
		{"huge header", lenOnly(math.MaxUint64, "{}"), "header length 18446744073709551615 is larger"},
		{"not json", handBuilt(`{"a":`, nil), "header is not a JSON object"},
		{"not object", handBuilt(`[1,2]`, nil), "header does not start with '{'"},
		{"truncated data", handBuilt(ok, eight[:6]), `tensor "a": data_offsets [0, 8] are out of range of the 6-byte data section`},
		{"f16", handBuilt(`{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, eight[:4]), `tensor "a" has dtype F16; only F32 is supported`},
		{"bf16", handBuilt(`{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`, eight[:4]), `has dtype BF16`},
		{"no dtype", handBuilt(`{"a":{"shape":[2],"data_offsets":[0,8]}}`, eight), `tensor "a" has no dtype`},
		{"shape mismatch", handBuilt(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, eight), `tensor "a": shape [3] needs 12 bytes of F32 data but data_offsets [0, 8] hold 8`},
		{"negative dim", handBuilt(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, eight), `shape [-2] has a negative dimension`},
		{"reversed offsets", handBuilt(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, eight), `data_offsets [8, 0] are out of range`},
		{"one offset", handBuilt(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8]}}`, eight), `data_offsets must be [begin, end], got [8]`},
		{"overlap", handBuilt(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `tensors "a" and "b" overlap`},
		{"hole", handBuilt(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), `bytes 0 to 4 of the data section belong to no tensor`},
		{"trailing", handBuilt(ok, append(eight, 0, 0, 0, 0)), `bytes 8 to 12 of the data section belong to no tensor`},
		{"unknown field", handBuilt(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}`, eight), `unknown field "x"`},
		{"bad metadata", handBuilt(`{"__metadata__":{"k":1}}`, nil), `__metadata__ is not an object of strings`},
	}
	dir := t.TempDir()
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".safetensors")
		os.WriteFile(path, c.file, 0o644)
		_, _, err := ReadSafetensors(path)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("%s: error %q\nwant it to start with the path and contain %q", c.name, err, c.want)
		}
	}
	if _, _, err := ReadSafetensors(filepath.Join(dir, "missing.safetensors")); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing file: %v", err)
	}
}

func TestWriteSafetensorsBadInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := WriteFileAtomic(path, []byte("good weights")); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		tensors []NamedTensor
		want    string
	}{
		{[]NamedTensor{{Name: "a", Shape: []int{3}, Data: []float32{1}}}, `tensor "a" has shape [3] (3 elements) but 1 values`},
		{[]NamedTensor{{Name: "a", Shape: []int{1}, Data: []float32{1}}, {Name: "a", Shape: []int{1}, Data: []float32{1}}}, `two tensors are named "a"`},
		{[]NamedTensor{{Name: "", Shape: []int{1}, Data: []float32{1}}}, `tensor 0 has an empty name`},
		{[]NamedTensor{{Name: "__metadata__"}}, `reserves for metadata`},
		{[]NamedTensor{{Name: "a", Shape: []int{-1}}}, `negative dimension`},
	}
	for _, c := range cases {
		err := WriteSafetensors(path, c.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("error %v, want one naming %s and containing %q", err, path, c.want)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != "good weights" {
		t.Errorf("a failed write clobbered the file: %q", b)
	}
	err := WriteSafetensors(filepath.Join(dir, "no", "such", "dir", "w.safetensors"), sampleTensors(), nil)
	if err == nil || !strings.Contains(err.Error(), "no/such/dir/w.safetensors") {
		t.Errorf("unwritable path: %v", err)
	}
	if err := WriteFileAtomic(dir, nil); err == nil || !strings.Contains(err.Error(), "a directory is in the way") {
		t.Errorf("directory as target: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want 1", len(entries))
	}
}

func TestWriteFileAtomicKeepsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.csv")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("contents = %q", b)
	}
}
