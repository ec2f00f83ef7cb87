package npy

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/convc/convc/internal/buildmode"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convc/convc/codegen"
	"github.com/convc/convc/dsl"
	"github.com/convc/convc/runtime"
)

// stripesSpec is a small cats_vs_dogs: 32x32 RGB images of horizontal or
// vertical stripes, one sigmoid unit.
const stripesSpec = `model stripes {
    Input(shape=(32, 32, 3))
    Rescaling(1./255)
    Conv2D(filters=4, kernel_size=3, activation="relu")
    MaxPooling2D(pool_size=2)
    Flatten()
    Dense(1, activation="sigmoid")
}

compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
fit(data=image_directory("stripes_small", image_size=(32, 32)), epochs=1, batch_size=8)
`

// writeStripes makes dir/{train,validation,test}/{horizontal,vertical}
// with n images per class and split, alternating JPEG and PNG of three
// sizes (one of them 32x32, which is not resized).
func writeStripes(t *testing.T, dir string, n int) {
	t.Helper()
	sizes := [][2]int{{40, 40}, {32, 32}, {29, 45}}
	k := 0
	for _, split := range []string{"train", "validation", "test"} {
		for class, name := range []string{"horizontal", "vertical"} {
			for i := range n {
				k++
				sz := sizes[k%len(sizes)]
				img := image.NewRGBA(image.Rect(0, 0, sz[0], sz[1]))
				for y := range sz[1] {
					for x := range sz[0] {
						t := y
						if class == 1 {
							t = x
						}
						v := uint8(40 + 150*((t+k)/3%2) + (x*7+y*13+k)%30)
						img.Set(x, y, color.RGBA{v, uint8(255 - int(v)), uint8(k * 17), 255})
					}
				}
				var buf bytes.Buffer
				ext := ".jpg"
				if k%2 == 0 {
					ext = ".png"
					if err := png.Encode(&buf, img); err != nil {
						t.Fatal(err)
					}
				} else if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}); err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(dir, split, name, fmt.Sprintf("%s.%d%s", name, i, ext))
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

func checkSpec(t *testing.T, src string) (*dsl.Model, *runtime.Spec) {
	t.Helper()
	m, errs := dsl.Check("stripes.cnn", []byte(src))
	if err := errs.Err(); err != nil {
		t.Fatal(err)
	}
	return m, codegen.RuntimeSpec(m, "")
}

// readNpy reads a whole .npy file of float32, uint8 or int64 values.
func readNpy(t *testing.T, path string) (Dtype, []int, []float64) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if hl := 10 + int(binary.LittleEndian.Uint16(data[8:])); hl%64 != 0 {
		t.Errorf("%s: header of %d bytes, want a multiple of 64", path, hl)
	}
	r := bytes.NewReader(data)
	dtype, shape, err := ReadHeader(r)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	body := data[len(data)-r.Len():]
	n := 1
	for _, d := range shape {
		n *= d
	}
	if len(body) != n*dtype.Size() {
		t.Fatalf("%s: %d bytes of data for shape %v %s", path, len(body), shape, dtype.Name())
	}
	vals := make([]float64, n)
	for i := range vals {
		switch dtype {
		case Float32:
			vals[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(body[4*i:])))
		case Int64:
			vals[i] = float64(int64(binary.LittleEndian.Uint64(body[8*i:])))
		case Uint8:
			vals[i] = float64(body[i])
		}
	}
	return dtype, shape, vals
}

func TestHeader(t *testing.T) {
	h := Header(Float32, []int{3})
	want := "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"
	if !strings.HasPrefix(string(h[10:]), want) || len(h)%64 != 0 || h[len(h)-1] != '\n' {
		t.Errorf("header %q", h)
	}
	d, s, err := ReadHeader(bytes.NewReader(Header(Uint8, []int{2, 32, 32, 3})))
	if err != nil || d != Uint8 || fmt.Sprint(s) != "[2 32 32 3]" {
		t.Errorf("ReadHeader: %v %v %v", d, s, err)
	}
}

// TestExportImageDirectory exports a folder of JPEGs and PNGs of several
// sizes and checks every pixel and label against the runtime's
// ImageSource, which the Go trainer trains on.
func TestExportImageDirectory(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	writeStripes(t, dir, 5)
	_, spec := checkSpec(t, stripesSpec)
	var log bytes.Buffer
	m, err := ExportImageDirectory(spec, dir, out, Options{Workers: 3, Log: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", log.String())
	if m.LabelMode != LabelBinary || len(m.Splits) != 3 || strings.Join(m.Classes, ",") != "horizontal,vertical" {
		t.Fatalf("manifest %+v", m)
	}
	var onDisk Manifest
	data, err := os.ReadFile(filepath.Join(out, ManifestFile))
	if err != nil || json.Unmarshal(data, &onDisk) != nil || onDisk.Dtype != "float32" || onDisk.LabelDtype != "float32" {
		t.Fatalf("classes.json: %v\n%s", err, data)
	}
	train, val, test, err := runtime.LoadImageDirectory(spec, dir, runtime.ImageDirOptions{})
	if err != nil {
		t.Fatal(err)
	}
	x, y := make([]float32, spec.InputSize()), make([]float32, 1)
	resized := false
	for _, s := range []struct {
		name string
		src  *runtime.ImageSource
	}{{"train", train}, {"validation", val}, {"test", test}} {
		xt, xs, xv := readNpy(t, filepath.Join(out, s.name+"_x.npy"))
		yt, ys, yv := readNpy(t, filepath.Join(out, s.name+"_y.npy"))
		if xt != Float32 || fmt.Sprint(xs) != "[10 32 32 3]" || yt != Float32 || fmt.Sprint(ys) != "[10]" {
			t.Fatalf("%s: x %s %v, y %s %v; want float32 [10 32 32 3] and float32 [10]", s.name, xt.Name(), xs, yt.Name(), ys)
		}
		for i := range s.src.Len() {
			s.src.Sample(i, x, y)
			if yv[i] != float64(y[0]) {
				t.Errorf("%s sample %d: label %v, the runtime's %v", s.name, i, yv[i], y[0])
			}
			for j, v := range x {
				if got := xv[i*len(x)+j]; got != float64(v) {
					t.Fatalf("%s sample %d (%s) value %d: %v, the runtime's %v", s.name, i, s.src.Files()[i], j, got, v)
				}
				resized = resized || v != float32(math.Round(float64(v)))
			}
		}
	}
	if !resized {
		t.Error("no interpolated pixel in the data; the test does not exercise the resize")
	}

	// Class indices for the sparse and categorical label modes.
	for _, loss := range []string{"sparse_categorical_crossentropy", "categorical_crossentropy"} {
		src := strings.NewReplacer(`Dense(1, activation="sigmoid")`, `Dense(2, activation="softmax")`, "binary_crossentropy", loss).Replace(stripesSpec)
		_, spec := checkSpec(t, src)
		m, err := ExportImageDirectory(spec, dir, out, Options{})
		if err != nil {
			t.Fatal(err)
		}
		yt, _, yv := readNpy(t, filepath.Join(out, "test_y.npy"))
		for i := range test.Len() {
			if yt != Int64 || yv[i] != float64(test.Label(i)) {
				t.Fatalf("%s (%s labels): test label %d is %v (%s), want class %d", loss, m.LabelMode, i, yv[i], yt.Name(), test.Label(i))
			}
		}
	}

	// uint8: rounded, and a data set without validation/ drops the old
	// validation files.
	if err := os.RemoveAll(filepath.Join(dir, "validation")); err != nil {
		t.Fatal(err)
	}
	if _, err := ExportImageDirectory(spec, dir, out, Options{Uint8: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out, "validation_x.npy")); !os.IsNotExist(err) {
		t.Errorf("validation_x.npy of the earlier export is still there: %v", err)
	}
	xt, _, xv := readNpy(t, filepath.Join(out, "test_x.npy"))
	test.Sample(3, x, y)
	for j, v := range x {
		if xt != Uint8 || xv[3*len(x)+j] != math.Round(float64(v)) {
			t.Fatalf("uint8 test sample 3 value %d: %v (%s), want %v rounded", j, xv[3*len(x)+j], xt.Name(), v)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestExportErrors(t *testing.T) {
	dir := t.TempDir()
	writeStripes(t, dir, 1)
	_, spec := checkSpec(t, stripesSpec)
	mnist := *spec
	mnist.Data = "mnist"
	if err := os.MkdirAll(filepath.Join(dir, "test", "zebra"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test", "zebra", "z.png"), []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	for _, c := range []struct {
		spec *runtime.Spec
		dir  string
		want string
	}{
		{&mnist, dir, "not image_directory"},
		{spec, filepath.Join(dir, "train"), "missing train/"},
		{spec, dir, "z.png: not a PNG"},
	} {
		_, err := ExportImageDirectory(c.spec, c.dir, out, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("export of %s: %v, want an error with %q", c.dir, err, c.want)
		}
	}
	if err := os.RemoveAll(filepath.Join(dir, "test", "zebra", "z.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "test", "zebra", "z.png"), pngBytes(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ExportImageDirectory(spec, dir, out, Options{}); err == nil || !strings.Contains(err.Error(), "every split needs the same class folders") {
		t.Errorf("export with an extra test class: %v", err)
	}
	if files, _ := os.ReadDir(out); len(files) != 0 {
		t.Errorf("failed exports left files: %v", files)
	}
}

func pngBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPyTorchTrainsOnExport trains the generated train.py for one epoch on
// an export and loads the weights it writes into the Go runtime.
func TestPyTorchTrainsOnExport(t *testing.T) {
	buildmode.SkipInSIMDPass(t)
	if testing.Short() {
		t.Skip("runs PyTorch; skipped with -short")
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("%s cannot import torch and numpy (apt-get install python3-torch): %v", python, err)
	}
	dir, out, py := t.TempDir(), t.TempDir(), t.TempDir()
	writeStripes(t, dir, 12)
	m, spec := checkSpec(t, stripesSpec)
	if _, err := ExportImageDirectory(spec, dir, out, Options{}); err != nil {
		t.Fatal(err)
	}
	files, err := codegen.PyTorch(m, codegen.PyTorchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(py, f.Path), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	train := func(data string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, python, append([]string{filepath.Join(py, "train.py"), "--data", data}, args...)...)
		cmd.Dir = py
		cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
		b, err := cmd.CombinedOutput()
		return string(b), err
	}

	// The image folder itself is not an export: train.py says what to run.
	if msg, err := train(dir); err == nil || !strings.Contains(msg, "convc export-data SPEC -data DIR -o OUT") {
		t.Errorf("train.py on the image folder: %v, want a hint to run convc export-data\n%s", err, msg)
	}

	weights := filepath.Join(py, "stripes.safetensors")
	msg, err := train(out, "--epochs", "1", "--out", weights, "--json")
	if err != nil {
		t.Fatalf("train.py: %v\n%s", err, msg)
	}
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	var res struct {
		Loss, TestAccuracy, ValLoss float64
	}
	var raw map[string]float64
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &raw); err != nil {
		t.Fatalf("no JSON line at the end of train.py's output: %v\n%s", err, msg)
	}
	res.Loss, res.TestAccuracy, res.ValLoss = raw["loss"], raw["test_accuracy"], raw["val_loss"]
	t.Logf("train.py: loss %.4f, val_loss %.4f, test accuracy %.3f", res.Loss, res.ValLoss, res.TestAccuracy)
	if math.IsNaN(res.Loss) || res.Loss <= 0 || res.Loss > 5 || res.ValLoss == 0 {
		t.Errorf("train.py's metrics %v; want a finite loss and a val_loss\n%s", raw, msg)
	}
	ref := runtime.NewReference(codegen.RuntimeSpec(m, ""))
	if err := runtime.LoadWeights(ref, weights); err != nil {
		t.Fatalf("the Go runtime cannot load train.py's weights: %v", err)
	}
	nonzero := false
	for _, p := range ref.Params() {
		for _, v := range p {
			nonzero = nonzero || v != 0
		}
	}
	if !nonzero {
		t.Error("train.py's weights are all zero")
	}

	// With a save_best_only ModelCheckpoint, train.py behaves as the Go
	// trainer: Keras's "improved from" lines, the best checkpoint
	// evaluated, the same history CSV, and a warning before it overwrites
	// a file the Go trainer wrote.
	m2, _ := checkSpec(t, strings.Replace(stripesSpec, "batch_size=8)", `batch_size=8, callbacks=[ModelCheckpoint("best.safetensors", save_best_only=True)])`, 1))
	files, err = codegen.PyTorch(m2, codegen.PyTorchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(py, f.Path), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := runtime.SaveWeights(runtime.NewReference(codegen.RuntimeSpec(m2, "")), filepath.Join(py, "best.safetensors")); err != nil {
		t.Fatal(err)
	}
	hist := filepath.Join(py, "history.csv")
	msg, err = train(out, "--epochs", "3", "--history", hist)
	if err != nil {
		t.Fatalf("train.py: %v\n%s", err, msg)
	}
	for _, want := range []string{
		"WARNING: best.safetensors was written by the Go trainer; this run overwrites it",
		"Epoch 1: val_loss improved from inf to ",
		"evaluating the best checkpoint best.safetensors (epoch ",
		"test accuracy: ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("train.py's output lacks %q:\n%s", want, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(py, "stripes_torch.safetensors")); err != nil {
		t.Errorf("train.py's default -out is not stripes_torch.safetensors: %v", err)
	}
	h, err := runtime.ReadHistoryCSV(hist)
	if err != nil {
		t.Fatalf("the Go runtime cannot read train.py's history: %v", err)
	}
	if got := strings.Join(h.Metrics, ","); got != "epoch,accuracy,loss,val_accuracy,val_loss" || len(h.Rows) != 3 || h.Rows[2][0] != 3 {
		t.Errorf("history columns %s, %d rows", got, len(h.Rows))
	}
}

// TestExportFolderAndModes checks that exported files get the mode
// os.Create would give them (others can read them on a shared disk), that
// an export replaces an earlier one and removes a killed export's
// temporary files, and that a folder with files of its own is refused.
func TestExportFolderAndModes(t *testing.T) {
	dir, out := t.TempDir(), t.TempDir()
	writeStripes(t, dir, 5)
	_, spec := checkSpec(t, stripesSpec)
	if _, err := ExportImageDirectory(spec, dir, out, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train_x.npy", "test_y.npy", ManifestFile} {
		fi, err := os.Stat(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != fileMode() || fileMode()&0o044 == 0 {
			t.Errorf("%s has mode %v, want %v", f, fi.Mode().Perm(), fileMode())
		}
	}
	stale := filepath.Join(out, ".train_x.npy.tmp123")
	os.WriteFile(stale, []byte("partial"), 0o600)
	if _, err := ExportImageDirectory(spec, dir, out, Options{}); err != nil {
		t.Fatalf("exporting again into an export: %v", err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a killed export's temporary file is still there")
	}
	mine := filepath.Join(out, "notes.txt")
	os.WriteFile(mine, []byte("mine"), 0o644)
	_, err := ExportImageDirectory(spec, dir, out, Options{})
	if err == nil || !strings.Contains(err.Error(), "holds files that export-data did not write (notes.txt)") {
		t.Errorf("a folder with other files: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Error("the user's file is gone")
	}
}
