package convert

import (
	"github.com/convc/convc/internal/buildmode"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/convc/convc/codegen"
	"github.com/convc/convc/dsl"
	"github.com/convc/convc/runtime"
)

// TestDenseKernelFlattenOrder checks that a converted Dense kernel gives,
// on convc's (h, w, c) flatten of a map, what PyTorch's Linear gives on
// its (c, h, w) flatten of the same map.
func TestDenseKernelFlattenOrder(t *testing.T) {
	const c, h, w, out = 3, 2, 4, 5
	rng := runtime.NewRNG(1)
	var m [c][h][w]float32
	var torchFlat, convcFlat []float32
	for ci := range c {
		for y := range h {
			for x := range w {
				m[ci][y][x] = rng.Float32()
			}
		}
	}
	for ci := range c {
		for y := range h {
			for x := range w {
				torchFlat = append(torchFlat, m[ci][y][x])
			}
		}
	}
	for y := range h {
		for x := range w {
			for ci := range c {
				convcFlat = append(convcFlat, m[ci][y][x])
			}
		}
	}
	in := c * h * w
	wt := make([]float32, out*in)
	for i := range wt {
		wt[i] = rng.Float32() - 0.5
	}
	k := denseKernel(wt, in, out, c)
	for o := range out {
		var a, b float64
		for j := range in {
			a += float64(wt[o*in+j]) * float64(torchFlat[j])
			b += float64(k[j*out+o]) * float64(convcFlat[j])
		}
		if math.Abs(a-b) > 1e-5 {
			t.Errorf("unit %d: PyTorch %g, converted %g", o, a, b)
		}
	}
}

// TestVGG16AgainstTorch converts a VGG16 in torchvision's names and
// layouts (random weights: no ImageNet file can be downloaded here),
// loads it through VGG16(weights=FILE) the way the trainer does, and
// compares the base's output with PyTorch's on the same images.
func TestVGG16AgainstTorch(t *testing.T) {
	buildmode.SkipInSIMDPass(t)
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch").Run(); err != nil {
		t.Skip("needs python3 with torch (Debian: python3-torch); .ci/run installs it")
	}
	dir := t.TempDir()
	const size = 32
	if out, err := exec.Command(py, "testdata/torch_vgg16.py", dir, "32").CombinedOutput(); err != nil {
		t.Fatalf("torch_vgg16.py: %v\n%s", err, out)
	}
	src, _, err := runtime.ReadSafetensorsWidened(filepath.Join(dir, "vgg16.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ts, r, err := VGG16(src, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 26 || len(r.Mapped) != 26 || len(r.Left) != 0 {
		t.Fatalf("converted %d tensors, mapped %d, left %v; want 26, 26 and none", len(ts), len(r.Mapped), r.Left)
	}
	wpath := filepath.Join(dir, "w.safetensors")
	if err := runtime.WriteSafetensors(wpath, ts, map[string]string{"preprocess": "torch"}); err != nil {
		t.Fatal(err)
	}
	net := func(mode string) runtime.Net {
		spec := `model m {
    Input(shape=(32, 32, 3))
    PreprocessInput(mode="` + mode + `")
    VGG16(include_top=False, weights="` + wpath + `")
}`
		m, errs := dsl.Check("m.cnn", []byte(spec))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return runtime.NewReference(codegen.RuntimeSpec(m, "m.cnn"))
	}

	ref := net("torch")
	if _, err := runtime.LoadPretrained(ref, nil); err != nil {
		t.Fatal(err)
	}
	io, _, err := runtime.ReadSafetensors(filepath.Join(dir, "io.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	x, y := io[0].Data, io[1].Data
	if io[0].Name != "x" {
		x, y = y, x
	}
	in, out := size*size*3, 512
	w := ref.NewWorker()
	var worst float64
	for n := range 2 {
		got := w.Forward(x[n*in:(n+1)*in], false, 0)
		want := y[n*out : (n+1)*out]
		var scale float64
		for _, v := range want {
			scale = max(scale, math.Abs(float64(v)))
		}
		for i := range want {
			worst = max(worst, math.Abs(float64(got[i]-want[i]))/scale)
		}
	}
	if worst > 1e-4 {
		t.Errorf("convc's VGG16 base differs from PyTorch's by %.2g of the largest output; want at most 1e-4", worst)
	}
	t.Logf("largest difference: %.2g of the largest output", worst)

	// The PyTorch target of the same spec loads the same file the same way
	// and computes the same features.
	m, errs := dsl.Check("m.cnn", []byte(`model m {
    Input(shape=(32, 32, 3))
    PreprocessInput(mode="torch")
    VGG16(include_top=False, weights="`+wpath+`")
}`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	files, err := codegen.PyTorch(m, codegen.PyTorchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Path), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	script := `import sys, torch, model
net = model.Model()
model.load_pretrained(net, lambda s: None)
t, _ = model.read_safetensors("io.safetensors")
with torch.no_grad():
    y = net(torch.tensor(t["x"]))
d = (y.reshape(-1) - torch.tensor(t["y"]).reshape(-1)).abs().max() / torch.tensor(t["y"]).abs().max()
print(float(d))
`
	cmd := exec.Command(py, "-c", script)
	cmd.Dir = dir
	pyOut, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("PyTorch target: %v\n%s", err, pyOut)
	}
	if d, err := strconv.ParseFloat(strings.TrimSpace(string(pyOut)), 64); err != nil || d > 1e-5 {
		t.Errorf("the PyTorch target's VGG16 base differs from PyTorch's own by %s of the largest output; want at most 1e-5", pyOut)
	}

	// The same weights after caffe preprocessing are refused.
	_, err = runtime.LoadPretrained(net("caffe"), nil)
	if err == nil || !strings.Contains(err.Error(), `expect PreprocessInput(mode="torch")`) {
		t.Errorf("loading torch weights after caffe preprocessing: got %v", err)
	}
}

// TestVGG16Refuses checks the converter's errors: another network, and
// a tensor of the wrong shape, named with what is wrong.
func TestVGG16Refuses(t *testing.T) {
	var src []runtime.NamedTensor
	for i := range 13 {
		n := []string{"features." + itoa(i*2) + ".weight", "features." + itoa(i*2) + ".bias"}
		src = append(src, runtime.NamedTensor{Name: n[0], Shape: []int{64, 3, 3, 3}, Data: make([]float32, 64*27)},
			runtime.NamedTensor{Name: n[1], Shape: []int{64}, Data: make([]float32, 64)})
	}
	_, _, err := VGG16(src, false)
	if err == nil || !strings.Contains(err.Error(), "tensor features.2.weight has shape [64 3 3 3], VGG16 needs [64 64 3 3]") {
		t.Errorf("wrong shapes: got %v", err)
	}
	_, _, err = VGG16(src[:20], false)
	if err == nil || !strings.Contains(err.Error(), "13 convolutions") {
		t.Errorf("10 convolutions: got %v", err)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestReadNamesFile checks that a missing source file is reported with
// its name.
func TestReadNamesFile(t *testing.T) {
	_, _, err := runtime.ReadSafetensorsWidened("/no/such/vgg16.safetensors")
	if err == nil || !strings.Contains(err.Error(), "/no/such/vgg16.safetensors") {
		t.Errorf("got %v", err)
	}
}

// TestLoadPretrainedErrors checks what the trainer says when VGG16's
// weights file is missing, lacks tensors or holds other shapes.
func TestLoadPretrainedErrors(t *testing.T) {
	dir := t.TempDir()
	net := func(weights string) runtime.Net {
		m, errs := dsl.Check("m.cnn", []byte(`model m {
    Input(shape=(32, 32, 3))
    PreprocessInput(mode="torch")
    VGG16(include_top=False, weights="`+weights+`")
}`))
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		return runtime.NewReference(codegen.RuntimeSpec(m, "m.cnn"))
	}
	missing := filepath.Join(dir, "none.safetensors")
	if _, err := runtime.LoadPretrained(net(missing), nil); err == nil || !strings.Contains(err.Error(), "m.cnn:4:5") || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "convc weights") {
		t.Errorf("missing file: %v", err)
	}
	// A file with one tensor of the wrong shape and the rest missing.
	partial := filepath.Join(dir, "partial.safetensors")
	if err := runtime.WriteSafetensors(partial, []runtime.NamedTensor{{Name: "block1_conv1/kernel", Shape: []int{3, 3, 3, 32}, Data: make([]float32, 864)}}, nil); err != nil {
		t.Fatal(err)
	}
	n := net(partial)
	before := append([]float32(nil), n.Params()[0]...)
	_, err := runtime.LoadPretrained(n, nil)
	if err == nil || !strings.Contains(err.Error(), "tensor block1_conv1/kernel has shape (3, 3, 3, 32), the model needs (3, 3, 3, 64)") || !strings.Contains(err.Error(), "missing tensor block5_conv3/bias") {
		t.Errorf("partial file: %v", err)
	}
	for i, v := range n.Params()[0] {
		if v != before[i] {
			t.Fatal("a failed load changed the weights")
		}
	}
}
