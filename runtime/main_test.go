package runtime

import (
	"bytes"
	"encoding/binary"
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
