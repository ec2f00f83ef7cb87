package onnxtest

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convc/convc"
	"github.com/convc/convc/codegen"
	"github.com/convc/convc/internal/buildmode"
	"github.com/convc/convc/runtime"
)

// TestRun runs hand-written specs through Run and compares the program's
// outputs with the runtime's reference interpreter: two specs that share
// the model name "model", one with pooling and explicit padding, one that
// does not check.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	// The program is built with convc.GoEnv whatever the test's own build
	// mode, so one pass covers it.
	buildmode.SkipInSIMDPass(t)
	repo, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	specs := map[string]string{
		"conv": `model model {
    Input(shape=(7, 5, 2))
    Conv2D(3, (3, 2), strides=2, padding=((1, 0), (0, 1)), activation="tanh")
    Flatten()
    Dense(4, activation="softmax")
}
`,
		"pool": `model model {
    Input(shape=(6, 6, 3))
    AveragePooling2D(3, strides=2, padding=1, count_include_pad=True)
    MaxPooling2D(2, padding=((0, 1), (1, 0)))
    Conv2D(2, 1, use_bias=False)
}
`,
		"broken": "model broken {\n    Input(shape=(4, 4, 1))\n    Dense(2)\n}\n",
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var models []*Model
	refs := map[string]*runtime.Reference{}
	for _, key := range []string{"conv", "pool", "broken"} {
		m := &Model{Key: key, Spec: []byte(specs[key])}
		models = append(models, m)
		if key == "broken" {
			m.Input = make([]float32, 16)
			continue
		}
		path := filepath.Join(t.TempDir(), key+".cnn")
		if err := os.WriteFile(path, m.Spec, 0o644); err != nil {
			t.Fatal(err)
		}
		checked, err := convc.Check(path)
		if err != nil {
			t.Fatal(err)
		}
		ref := runtime.NewReference(codegen.RuntimeSpec(checked, path))
		for i, p := range ref.Spec().Params {
			for j := range ref.Params()[i] {
				ref.Params()[i][j] = float32(rng.NormFloat64())
			}
			m.Weights = append(m.Weights, runtime.NamedTensor{Name: p.Name, Shape: p.Shape, Data: ref.Params()[i]})
		}
		m.Input = make([]float32, 3*ref.Spec().InputSize())
		for i := range m.Input {
			m.Input[i] = float32(rng.NormFloat64())
		}
		refs[key] = ref
	}
	res, err := Run(t.TempDir(), repo, models)
	if err != nil {
		t.Fatal(err)
	}
	if r := res["broken"]; r.Err == nil || !strings.Contains(r.Err.Error(), "Flatten") {
		t.Errorf("broken spec: got error %v, want the checker's advice to insert Flatten", r.Err)
	}
	for key, ref := range refs {
		r := res[key]
		if r.Err != nil {
			t.Errorf("%s: %v", key, r.Err)
			continue
		}
		in, out := ref.Spec().InputSize(), ref.Spec().OutputSize()
		var want []float32
		for s := range 3 {
			y := make([]float32, out)
			runtime.Activate(ref.Spec().HeadActivation(), ref.NewReferenceWorker().Forward(inputOf(models, key)[s*in:(s+1)*in], false, 0), y)
			want = append(want, y...)
		}
		if len(r.Output) != len(want) {
			t.Errorf("%s: %d outputs, want %d", key, len(r.Output), len(want))
			continue
		}
		d, at, top := Diff(r.Output, want)
		if d > 1e-5*max(1, top) {
			t.Errorf("%s: output %d is %g, the reference computes %g", key, at, r.Output[at], want[at])
		}
		t.Logf("%s: %d outputs, largest %.3g, largest difference %.2g", key, len(want), top, d)
	}
}

func inputOf(models []*Model, key string) []float32 {
	for _, m := range models {
		if m.Key == key {
			return m.Input
		}
	}
	return nil
}

// TestTranspose checks that HWCToCHW undoes CHWToHWC, and one element.
func TestTranspose(t *testing.T) {
	const n, c, h, w = 2, 3, 4, 5
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(i)
	}
	y := CHWToHWC(x, n, c, h, w)
	// Sample 1, channel 2, row 3, column 4.
	if got, want := y[c*h*w+(3*w+4)*c+2], x[c*h*w+(2*h+3)*w+4]; got != want {
		t.Errorf("CHWToHWC moved %g to where %g belongs", got, want)
	}
	z := HWCToCHW(y, n, h, w, c)
	for i := range x {
		if z[i] != x[i] {
			t.Fatalf("HWCToCHW(CHWToHWC(x))[%d] = %g, want %g", i, z[i], x[i])
		}
	}
}
