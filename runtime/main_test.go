package runtime

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// trainerNet is a small network over 4x4 images with 3 classes, run by the
// reference interpreter, for tests of the trainer's command line.
func trainerNet(lr float32) *Reference {
	s := buildSpec([]int{4, 4, 1}, tConv(2, 3, 3, 1, 1, false, "relu"), tFlatten(), tDense(3, "softmax"))
	s.Name, s.File, s.Hash = "tiny", "tiny.cnn", "abc"
	s.Data, s.Epochs, s.BatchSize = "mnist", 2, 4
	s.Optimizer = Optimizer{Name: "rmsprop", LearningRate: lr, Rho: 0.9, Epsilon: 1e-7}
	s.Summary = "summary of tiny\n"
	return NewReference(s)
}

// writeIDX writes an IDX data set with n 4x4 images whose labels are
// label(i), raw or gzip-free, under the standard MNIST names of prefix.
func writeIDX(t *testing.T, dir, prefix string, n int, label func(i int) byte) {
	t.Helper()
	var img, lab bytes.Buffer
	binary.Write(&img, binary.BigEndian, []uint32{0x803, uint32(n), 4, 4})
	binary.Write(&lab, binary.BigEndian, []uint32{0x801, uint32(n)})
	for i := range n {
		l := label(i)
		px := make([]byte, 16)
		for j := range px {
			if j%3 == int(l) {
				px[j] = byte(100 + 50*int(l))
			}
		}
		img.Write(px)
		lab.WriteByte(l)
	}
	os.WriteFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"), img.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"), lab.Bytes(), 0o644)
}

func runMain(net Net, args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = mainIO(net, args, &o, &e)
	return code, o.String(), e.String()
}

func TestTrainerTrainsAndEvaluates(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir, "train", 40, func(i int) byte { return byte(i % 3) })
	writeIDX(t, dir, "t10k", 12, func(i int) byte { return byte(i % 3) })
	out := filepath.Join(dir, "w.safetensors")
	hist := filepath.Join(dir, "h.csv")
	code, stdout, stderr := runMain(trainerNet(0.01), "train", "-data", dir, "-out", out, "-history", hist, "-epochs", "3", "-json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"Epoch 1/3\n", "Epoch 3/3\n", "10/10 [==============================]", "test accuracy: ", `"test_accuracy":`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	h, err := ReadHistoryCSV(hist)
	if err != nil || len(h.Rows) != 3 {
		t.Fatalf("history: %v, %+v", err, h)
	}
	code, stdout, stderr = runMain(trainerNet(0.01), "evaluate", "-data", dir, "-weights", out)
	if code != 0 || !strings.Contains(stdout, "test accuracy: ") {
		t.Fatalf("evaluate: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestTrainerBadInput(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir, "train", 20, func(i int) byte { return byte(i % 3) })
	writeIDX(t, dir, "t10k", 6, func(i int) byte { return byte(i % 3) })
	bad := t.TempDir()
	writeIDX(t, bad, "train", 20, func(i int) byte { return byte(i % 5) })
	writeIDX(t, bad, "t10k", 6, func(i int) byte { return 0 })
	good := filepath.Join(dir, "good.safetensors")
	if code, _, stderr := runMain(trainerNet(0.01), "train", "-data", dir, "-out", good, "-epochs", "1"); code != 0 {
		t.Fatal(stderr)
	}
	goodBytes, _ := os.ReadFile(good)

	wrong := filepath.Join(dir, "wrong.safetensors")
	WriteSafetensors(wrong, []NamedTensor{
		{Name: "l1/kernel", Shape: []int{3, 3, 1, 4}, Data: make([]float32, 36)},
		{Name: "l3/kernel", Shape: []int{8, 3}, Data: make([]float32, 24)},
		{Name: "extra/bias", Shape: []int{1}, Data: make([]float32, 1)},
	}, nil)

	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"missing data folder", []string{"train", "-data", filepath.Join(dir, "nope"), "-out", good}, []string{"nope"}},
		{"labels out of range", []string{"train", "-data", bad, "-out", good}, []string{"label 3 of sample 3 is out of range", "3 classes"}},
		{"weights that do not match", []string{"evaluate", "-data", dir, "-weights", wrong}, []string{
			"wrong.safetensors does not match the tiny model",
			"tensor l1/kernel has shape (3, 3, 1, 4), the model needs (3, 3, 1, 2)",
			"missing tensor l1/bias (2)",
			"missing tensor l3/bias (3)",
			"unexpected tensor extra/bias (1)",
		}},
		{"unwritable output", []string{"train", "-data", dir, "-out", filepath.Join(dir, "no", "such", "w.safetensors")}, []string{"cannot write", "does not exist"}},
		{"not finite", []string{"train", "-data", dir, "-out", good}, []string{"epoch 1, batch 1: the loss is not finite", "last good weights"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var net Net = trainerNet(0.01)
			if tc.name == "not finite" {
				net = notFinite(trainerNet(0.01))
			}
			code, _, stderr := runMain(net, tc.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("error lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, "panic") {
				t.Errorf("panicked:\n%s", stderr)
			}
			if tc.name != "not finite" {
				if b, _ := os.ReadFile(good); !bytes.Equal(b, goodBytes) {
					t.Errorf("the good weights were overwritten")
				}
			}
		})
	}
}

// infNet makes every forward pass return an infinite output, as a
// diverged network does.
type infNet struct{ *Reference }

func notFinite(r *Reference) Net { return infNet{r} }

func (n infNet) NewWorker() Worker { return infWorker{n.Reference.NewWorker()} }

type infWorker struct{ Worker }

func (w infWorker) Forward(x []float32, training bool, seed uint64) []float32 {
	out := w.Worker.Forward(x, training, seed)
	out[0] = float32(inf())
	return out
}

func inf() float64 { return math.Inf(1) }

// TestTrainerBounds gives the trainer flags, data and weights files out of
// every bound: each is refused with a message that says what to do, exits
// 1 (or 2 for usage), and leaves the good weights as they were.
func TestTrainerBounds(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir, "train", 20, func(i int) byte { return byte(i % 3) })
	writeIDX(t, dir, "t10k", 6, func(i int) byte { return byte(i % 3) })
	noTest := t.TempDir()
	writeIDX(t, noTest, "train", 20, func(i int) byte { return byte(i % 3) })
	writeIDX(t, noTest, "t10k", 0, func(i int) byte { return 0 })
	good := filepath.Join(dir, "good.safetensors")
	if code, _, stderr := runMain(trainerNet(0.01), "train", "-data", dir, "-out", good, "-epochs", "1"); code != 0 {
		t.Fatal(stderr)
	}
	goodBytes, _ := os.ReadFile(good)
	ts, _, err := ReadSafetensors(good)
	if err != nil {
		t.Fatal(err)
	}
	ts[0].Data[3] = float32(math.NaN())
	nan := filepath.Join(dir, "nan.safetensors")
	if err := WriteSafetensors(nan, ts, nil); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(dir, "x.png")
	os.WriteFile(img, pngOf(t, 4, 4), 0o644)

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"epochs 0", []string{"train", "-data", dir, "-out", good, "-epochs", "0"}, "-epochs must be at least 1"},
		{"limit -5", []string{"train", "-data", dir, "-out", good, "-limit", "-5"}, "-limit must be at least 0"},
		{"batch 0", []string{"train", "-data", dir, "-out", good, "-batch-size", "0"}, "-batch-size must be in [1,"},
		{"batch huge", []string{"train", "-data", dir, "-out", good, "-batch-size", "2000000000"}, "-batch-size must be in [1,"},
		{"workers 0", []string{"train", "-data", dir, "-out", good, "-workers", "0"}, "-workers must be at least 1"},
		{"split leaves none", []string{"train", "-data", dir, "-out", good, "-validation-split", "0.01"}, "leaves 0 for validation"},
		{"empty test set", []string{"train", "-data", noTest, "-out", good}, "the test set of " + noTest + " is empty"},
		{"empty test set evaluate", []string{"evaluate", "-data", noTest, "-weights", good}, "is empty"},
		{"NaN weights evaluate", []string{"evaluate", "-data", dir, "-weights", nan}, "tensor l1/kernel holds NaN at element 3"},
		{"NaN weights predict", []string{"predict", "-weights", nan, img}, "tensor l1/kernel holds NaN"},
		{"NaN weights init", []string{"train", "-data", dir, "-out", good, "-init", nan}, "holds NaN"},
		{"device as weights", []string{"evaluate", "-data", dir, "-weights", "/dev/zero"}, "/dev/zero is not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runMain(trainerNet(0.01), tc.args...)
			if code != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, tc.want)
			}
			if b, _ := os.ReadFile(good); !bytes.Equal(b, goodBytes) {
				t.Errorf("the good weights were overwritten")
			}
		})
	}
	// -workers above the CPUs is capped with a warning, not an error.
	code, _, stderr := runMain(trainerNet(0.01), "evaluate", "-data", dir, "-weights", good, "-workers", "100000")
	if code != 0 || !strings.Contains(stderr, "-workers 100000 is more than the") {
		t.Errorf("-workers 100000: exit %d, %s", code, stderr)
	}
}

func pngOf(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWarnsBeforeOverwritingPyTorch checks that the trainer says so before
// it overwrites weights that the PyTorch target's train.py wrote.
func TestWarnsBeforeOverwritingPyTorch(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir, "train", 20, func(i int) byte { return byte(i % 3) })
	writeIDX(t, dir, "t10k", 6, func(i int) byte { return byte(i % 3) })
	out := filepath.Join(dir, "w.safetensors")
	WriteSafetensors(out, []NamedTensor{{Name: "x", Shape: []int{1}, Data: []float32{1}}}, map[string]string{"format": "convc", "engine": "pytorch"})
	code, _, stderr := runMain(trainerNet(0.01), "train", "-data", dir, "-out", out, "-epochs", "1")
	if code != 0 || !strings.Contains(stderr, "warning: "+out+" was written by the PyTorch trainer") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if meta, err := SafetensorsMetadata(out); err != nil || meta["engine"] != "go" {
		t.Errorf("metadata after the run: %v, %v", meta, err)
	}
}
