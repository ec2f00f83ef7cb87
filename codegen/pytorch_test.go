package codegen

import (
	"encoding/json"
	"fmt"
	"github.com/convc/convc/internal/buildmode"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/runtime"
)

// The PyTorch parity tests run every spec in specs/ and random specs
// through the generated model.py and train.py and through the runtime's
// reference interpreter, on the same weights and inputs, and compare the
// forward outputs, the gradients of every parameter and two steps of each
// optimizer. The Python side runs in one process for all cases
// (testdata/pytorch_parity.py).

const python = "/usr/bin/python3"

// Tolerances, relative to the largest magnitude of the reference tensor
// (of the weights, at least 1, for optimizer steps).
const (
	tolForward   = 1e-4
	tolGradient  = 1e-3
	tolOptimizer = 1e-4
)

// havePyTorch skips the test when python3 lacks torch and numpy.
func havePyTorch(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("PyTorch parity is slow; skipped with -short")
	}
	if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("%s cannot import torch and numpy (apt-get install python3-torch): %v", python, err)
	}
}

// parityOptimizers are the optimizers every case steps, with Keras's
// defaults and with momentum.
var parityOptimizers = []runtime.Optimizer{
	{Name: "rmsprop", LearningRate: 0.001, Rho: 0.9, Epsilon: 1e-7},
	{Name: "rmsprop", LearningRate: 0.01, Rho: 0.8, Momentum: 0.9, Epsilon: 1e-7},
	{Name: "adam", LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7},
	{Name: "adam", LearningRate: 0.01, Beta1: 0.8, Beta2: 0.99, Epsilon: 1e-5},
	{Name: "sgd", LearningRate: 0.01},
	{Name: "sgd", LearningRate: 0.1, Momentum: 0.9},
}

func optimizerJSON(o runtime.Optimizer) map[string]any {
	return map[string]any{"name": o.Name, "learning_rate": o.LearningRate, "rho": o.Rho, "momentum": o.Momentum,
		"epsilon": o.Epsilon, "beta_1": o.Beta1, "beta_2": o.Beta2}
}

// parityCase is one spec with its inputs and the Go side's results.
type parityCase struct {
	name, src string
	m         *dsl.Model
	spec      *runtime.Spec
	dir       string
	x, y      []float32 // the batch, row-major
	batch     int
	out       []float32 // Go's forward output before the head activation
	loss      float64
	grads     [][]float32
	steps     [][][]float32 // weights after each optimizer's steps
}

// specCases returns the specs of specs/, with the 180x180 image models at
// 78x78, the smallest size at which their five convolutions still fit.
func specCases(t *testing.T) map[string]string {
	files, err := filepath.Glob("../specs/*.cnn")
	if err != nil || len(files) == 0 {
		t.Fatalf("no specs: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out["specs/"+filepath.Base(f)] = strings.ReplaceAll(string(b), "180", "78")
	}
	// Section 8.3's fine-tuning model at 32x32, VGG16's smallest input:
	// PreprocessInput, VGG16 with its first blocks frozen, and the head.
	// The parity test sets every weight itself.
	b, err := os.ReadFile("../specs/vgg16/fine_tuning.cnn")
	if err != nil {
		t.Fatal(err)
	}
	out["specs/vgg16/fine_tuning.cnn"] = strings.ReplaceAll(string(b), "180", "32")
	return out
}

var (
	randActivations = []string{"relu", "relu", "tanh", "sigmoid", "linear", "softmax"}
	randLosses      = []string{"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"}
)

// randomSpec writes a random spec: image or vector input, a stack of
// Conv2D (valid, same and explicit padding, strides 1 and 2, kernels 1-5,
// square or not) and pooling layers (max and average, with the same
// paddings, counting the padding or not), Flatten, Dense layers
// and an output layer fitting a random loss. Many do not check (shapes
// shrink below 1); the caller keeps those that do.
func randomSpec(r *rand.Rand, i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "model random_%d {\n", i)
	pick := func(s ...string) string { return s[r.Intn(len(s))] }
	size := func(lo, hi int) string {
		if r.Intn(3) == 0 {
			return fmt.Sprintf("(%d, %d)", lo+r.Intn(hi-lo+1), lo+r.Intn(hi-lo+1))
		}
		return fmt.Sprint(lo + r.Intn(hi-lo+1))
	}
	// pad is "valid", "same" or, one time in four, the explicit form.
	pad := func() string {
		switch r.Intn(8) {
		case 0:
			return fmt.Sprint(r.Intn(3))
		case 1:
			return fmt.Sprintf("((%d, %d), (%d, %d))", r.Intn(3), r.Intn(3), r.Intn(3), r.Intn(3))
		}
		return pick(`"valid"`, `"same"`)
	}
	if r.Intn(8) == 0 {
		fmt.Fprintf(&b, "    Input(shape=(%d,))\n", 2+r.Intn(20))
	} else {
		h := 3 + r.Intn(14)
		w := h
		if r.Intn(3) == 0 {
			w = 3 + r.Intn(14)
		}
		fmt.Fprintf(&b, "    Input(shape=(%d, %d, %d))\n", h, w, 1+r.Intn(3))
		if r.Intn(4) == 0 {
			fmt.Fprintf(&b, "    Rescaling(%s, offset=%s)\n", pick("2.0", "0.5", "1./255"), pick("0.0", "-0.5"))
		}
		for range 1 + r.Intn(4) {
			if r.Intn(3) == 0 {
				strides := pick("None", "1", "2", "(1, 2)")
				kind := pick("MaxPooling2D", "AveragePooling2D")
				fmt.Fprintf(&b, "    %s(pool_size=%s, strides=%s, padding=%s", kind, size(1, 3), strides, pad())
				if kind == "AveragePooling2D" && r.Intn(2) == 0 {
					b.WriteString(", count_include_pad=True")
				}
				b.WriteString(")\n")
			} else {
				fmt.Fprintf(&b, "    Conv2D(filters=%d, kernel_size=%s, strides=%s, padding=%s, activation=%q, use_bias=%s)\n",
					1+r.Intn(6), size(1, 5), pick("1", "1", "2", "(2, 1)"), pad(), pick(randActivations...), pick("True", "True", "False"))
			}
		}
		if r.Intn(5) == 0 {
			b.WriteString("    Dropout(0.3)\n")
		}
		b.WriteString("    Flatten()\n")
	}
	for range r.Intn(3) {
		fmt.Fprintf(&b, "    Dense(%d, activation=%q, use_bias=%s)\n", 2+r.Intn(10), pick(randActivations...), pick("True", "False"))
	}
	loss := pick(randLosses...)
	if loss == "binary_crossentropy" {
		fmt.Fprintf(&b, "    Dense(%d, activation=\"sigmoid\")\n}\n", 1+r.Intn(3))
	} else {
		fmt.Fprintf(&b, "    Dense(%d, activation=\"softmax\")\n}\n", 2+r.Intn(5))
	}
	fmt.Fprintf(&b, "compile(optimizer=%q, loss=%q)\n", pick("rmsprop", "adam", "sgd"), loss)
	return b.String()
}

// newParityCase checks src, writes its PyTorch target and random weights
// and inputs into dir, and computes the Go side's results.
func newParityCase(t *testing.T, name, src, dir string, seed int64) *parityCase {
	m, errs := dsl.Check(name, []byte(src))
	if err := errs.Err(); err != nil {
		t.Fatalf("%s does not check:\n%v\n%s", name, err, src)
	}
	files, err := PyTorch(m, PyTorchOptions{})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Path), f.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := &parityCase{name: name, src: src, m: m, spec: RuntimeSpec(m, ""), dir: dir, batch: 3}
	r := rand.New(rand.NewSource(seed))
	ref := runtime.NewReference(c.spec)
	runtime.InitParams(c.spec, ref.Params(), uint64(seed))
	for i, p := range c.spec.Params {
		if p.Init == "zeros" { // random biases, so that their paths count
			for j := range ref.Params()[i] {
				ref.Params()[i][j] = float32(r.Float64()*0.2 - 0.1)
			}
		}
	}
	if err := runtime.SaveWeights(ref, filepath.Join(dir, "weights.safetensors")); err != nil {
		t.Fatal(err)
	}

	in, outN, labN := c.spec.InputSize(), c.spec.OutputSize(), runtime.LabelSize(c.spec)
	// Pixels in [0, 255] for models with Rescaling(1./255), as
	// their data sources give; otherwise in [0, 1).
	scale := 1.0
	for _, l := range m.Layers {
		if l.Kind == dsl.KindRescaling && l.Scale < 0.01 {
			scale = 255
		}
	}
	c.x = make([]float32, c.batch*in)
	for i := range c.x {
		c.x[i] = float32(r.Float64() * scale)
	}
	c.y = make([]float32, c.batch*labN)
	for b := range c.batch {
		y := c.y[b*labN : (b+1)*labN]
		switch c.spec.Loss {
		case "sparse_categorical_crossentropy":
			y[0] = float32(r.Intn(outN))
		case "categorical_crossentropy":
			y[r.Intn(outN)] = 1
		default:
			for j := range y {
				y[j] = float32(r.Float64())
			}
		}
	}

	// The Go side: mean loss and mean gradient over the batch, as fit.
	c.grads = make([][]float32, len(c.spec.Params))
	for i, p := range c.spec.Params {
		if p.Trainable {
			c.grads[i] = make([]float32, len(ref.Params()[i]))
		}
	}
	w := ref.NewWorker()
	head := c.spec.HeadActivation()
	dOut := make([]float32, outN)
	for b := range c.batch {
		z := w.Forward(c.x[b*in:(b+1)*in], false, 0)
		c.out = append(c.out, z...)
		l, _ := runtime.LossGrad(c.spec.Loss, head, z, c.y[b*labN:(b+1)*labN], dOut)
		c.loss += l / float64(c.batch)
		w.Backward(dOut, c.grads)
	}
	for _, g := range c.grads {
		for j := range g {
			g[j] /= float32(c.batch)
		}
	}
	for _, o := range parityOptimizers {
		params := make([][]float32, len(ref.Params()))
		for i, p := range ref.Params() {
			params[i] = append([]float32(nil), p...)
		}
		opt, err := runtime.NewOptimizer(o, c.spec)
		if err != nil {
			t.Fatal(err)
		}
		opt.Step(params, c.grads)
		opt.Step(params, c.grads)
		c.steps = append(c.steps, params)
	}

	ts := []runtime.NamedTensor{
		{Name: "x", Shape: append([]int{c.batch}, c.spec.Layers[0].Out...), Data: c.x},
		{Name: "y", Shape: []int{c.batch, labN}, Data: c.y},
	}
	if c.spec.Loss == "sparse_categorical_crossentropy" {
		ts[1].Shape = []int{c.batch}
	}
	for i, p := range c.spec.Params {
		if c.grads[i] != nil {
			ts = append(ts, runtime.NamedTensor{Name: "grad/" + p.Name, Shape: p.Shape, Data: c.grads[i]})
		}
	}
	if err := runtime.WriteSafetensors(filepath.Join(dir, "inputs.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// runParity runs the Python side on every case in one process and returns
// the per-case errors it reported.
func runParity(t *testing.T, tmp string, cases []map[string]any) map[string]string {
	manifest := map[string]any{"cases": cases, "errors": filepath.Join(tmp, "errors.json")}
	b, _ := json.Marshal(manifest)
	mf := filepath.Join(tmp, "manifest.json")
	if err := os.WriteFile(mf, b, 0o644); err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("testdata/pytorch_parity.py")
	cmd := exec.Command(python, script, mf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", python, script, err, out)
	}
	var errs map[string]string
	b, err := os.ReadFile(filepath.Join(tmp, "errors.json"))
	if err == nil {
		err = json.Unmarshal(b, &errs)
	}
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

// maxDiff returns the largest absolute difference between got and want and
// the largest magnitude in want.
func maxDiff(got, want []float32) (diff, scale float64) {
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
		if math.IsNaN(float64(got[i])) != math.IsNaN(float64(want[i])) {
			diff = math.Inf(1)
		}
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return diff, scale
}

// paritySummary collects the largest relative differences over all cases.
type paritySummary struct{ forward, gradient, optimizer float64 }

func TestPyTorchParity(t *testing.T) {
	buildmode.SkipInSIMDPass(t)
	havePyTorch(t)
	tmp := t.TempDir()
	var cases []*parityCase
	specs := specCases(t)
	for _, name := range sortedKeys(specs) {
		cases = append(cases, newParityCase(t, name, specs[name], filepath.Join(tmp, fmt.Sprint(len(cases))), int64(len(cases))))
	}
	r := rand.New(rand.NewSource(7))
	random := 0
	for i := 0; random < 24 && i < 2000; i++ {
		src := randomSpec(r, i)
		if _, errs := dsl.Check("random.cnn", []byte(src)); errs.Err() != nil {
			continue
		}
		random++
		name := fmt.Sprintf("random_%d.cnn", i)
		cases = append(cases, newParityCase(t, name, src, filepath.Join(tmp, fmt.Sprint(len(cases))), int64(len(cases))))
	}
	if random < 24 {
		t.Fatalf("only %d random specs checked", random)
	}
	t.Logf("layers covered: %s", coverage(cases))
	var manifest []map[string]any
	for _, c := range cases {
		var opts []map[string]any
		for _, o := range parityOptimizers {
			opts = append(opts, optimizerJSON(o))
		}
		manifest = append(manifest, map[string]any{
			"name": c.name, "dir": c.dir, "loss": c.spec.Loss, "optimizers": opts,
			"weights": filepath.Join(c.dir, "weights.safetensors"), "inputs": filepath.Join(c.dir, "inputs.safetensors"),
			"result": filepath.Join(c.dir, "result.safetensors"),
		})
	}
	errs := runParity(t, tmp, manifest)
	var sum paritySummary
	for _, c := range cases {
		if e, ok := errs[c.name]; ok {
			t.Errorf("%s: the PyTorch side failed:\n%s\nspec:\n%s", c.name, e, c.src)
			continue
		}
		c.compare(t, &sum)
	}
	t.Logf("%d cases (%d random); largest relative differences: forward %.2g, gradients %.2g, optimizer steps %.2g",
		len(cases), random, sum.forward, sum.gradient, sum.optimizer)
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// compare checks the PyTorch results of c against the Go side's.
func (c *parityCase) compare(t *testing.T, sum *paritySummary) {
	t.Helper()
	ts, _, err := runtime.ReadSafetensors(filepath.Join(c.dir, "result.safetensors"))
	if err != nil {
		t.Errorf("%s: %v", c.name, err)
		return
	}
	res := map[string][]float32{}
	for _, x := range ts {
		res[x.Name] = x.Data
	}
	fail := func(format string, args ...any) {
		t.Errorf("%s: %s\nspec:\n%s", c.name, fmt.Sprintf(format, args...), c.src)
	}
	d, s := maxDiff(res["out"], c.out)
	rel := d / math.Max(s, 1e-6)
	sum.forward = math.Max(sum.forward, rel)
	if !(rel <= tolForward) {
		layer, ld := c.firstDifferentLayer(res)
		fail("forward outputs differ by %.3g (relative %.3g > %g); the first layer that differs is %s (by %.3g)", d, rel, tolForward, layer, ld)
		return
	}
	if got := float64(res["loss"][0]); math.Abs(got-c.loss) > 1e-4*math.Max(1, math.Abs(c.loss)) {
		fail("loss is %g in PyTorch, %g in Go", got, c.loss)
	}
	for i, p := range c.spec.Params {
		if c.grads[i] == nil {
			continue
		}
		g, ok := res["grad/"+p.Name]
		if !ok {
			fail("PyTorch has no gradient for %s", p.Name)
			continue
		}
		d, s := maxDiff(g, c.grads[i])
		rel := d / math.Max(s, 1e-6)
		sum.gradient = math.Max(sum.gradient, rel)
		if !(rel <= tolGradient) {
			fail("gradient of %s (layer %s) differs by %.3g (relative %.3g > %g)", p.Name, strings.Split(p.Name, "/")[0], d, rel, tolGradient)
		}
	}
	for j, o := range parityOptimizers {
		for i, p := range c.spec.Params {
			w := res[fmt.Sprintf("opt%d/%s", j, p.Name)]
			d, s := maxDiff(w, c.steps[j][i])
			rel := d / math.Max(s, 1)
			sum.optimizer = math.Max(sum.optimizer, rel)
			if !(rel <= tolOptimizer) {
				fail("after two %s steps (%+v), %s differs by %.3g (relative %.3g > %g)", o.Name, o, p.Name, d, rel, tolOptimizer)
			}
		}
	}
}

// firstDifferentLayer finds the first layer whose output differs between
// PyTorch (the act/<layer> tensors) and the reference interpreter run on
// the spec cut after that layer.
func (c *parityCase) firstDifferentLayer(res map[string][]float32) (string, float64) {
	full := runtime.NewReference(c.spec)
	if err := runtime.LoadWeights(full, filepath.Join(c.dir, "weights.safetensors")); err != nil {
		return err.Error(), 0
	}
	for k := 1; k < len(c.spec.Layers); k++ {
		l := c.spec.Layers[k]
		got, ok := res["act/"+l.Name]
		if !ok {
			continue
		}
		cut := *c.spec
		cut.Layers = c.spec.Layers[:k+1]
		cut.Params = nil
		var params [][]float32
		for i, p := range c.spec.Params {
			for _, cl := range cut.Layers {
				if strings.HasPrefix(p.Name, cl.Name+"/") {
					cut.Params = append(cut.Params, p)
					params = append(params, full.Params()[i])
				}
			}
		}
		ref := runtime.NewReference(&cut)
		for i := range params {
			copy(ref.Params()[i], params[i])
		}
		w := ref.NewWorker()
		in := cut.InputSize()
		var want []float32
		for b := range c.batch {
			want = append(want, w.Forward(c.x[b*in:(b+1)*in], false, 0)...)
		}
		if d, s := maxDiff(got, want); d > tolForward*math.Max(s, 1e-6) {
			return fmt.Sprintf("%s (%s)", l.Name, l.Kind), d
		}
	}
	return "none (only the output)", 0
}

// TestPyTorchAugment checks the transforms of RandomRotation and RandomZoom
// in model.py against the runtime's, with the transforms drawn by Go, for
// every fill mode and interpolation.
func TestPyTorchAugment(t *testing.T) {
	buildmode.SkipInSIMDPass(t)
	havePyTorch(t)
	tmp := t.TempDir()
	m, errs := dsl.Check("aug.cnn", []byte("model aug {\n Input(shape=(7, 9, 2))\n Flatten()\n Dense(2, activation=\"softmax\")\n}\n"))
	if errs.Err() != nil {
		t.Fatal(errs.Err())
	}
	files, err := PyTorch(m, PyTorchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		os.WriteFile(filepath.Join(tmp, f.Path), f.Data, 0o644)
	}
	type augCase struct {
		layer runtime.Layer
		want  []float32
		x     []float32
	}
	var cases []augCase
	var manifest []map[string]any
	r := rand.New(rand.NewSource(3))
	const n, h, w, ch = 4, 7, 9, 2
	for _, kind := range []string{"RandomRotation", "RandomZoom"} {
		for _, fill := range []string{"reflect", "wrap", "nearest", "constant"} {
			for _, interp := range []string{"bilinear", "nearest"} {
				l := runtime.Layer{Kind: kind, Name: "aug", In: []int{h, w, ch}, Out: []int{h, w, ch},
					Factor: [2]float32{-0.3, 0.4}, WidthFactor: [2]float32{-0.5, 0.2}, FillMode: fill, Interpolation: interp}
				x := make([]float32, n*h*w*ch)
				for i := range x {
					x[i] = float32(r.Float64())
				}
				out := make([]float32, len(x))
				var tr []float32
				for b := range n {
					rng := runtime.NewRNG(uint64(r.Int63()))
					st := runtime.AugmentForward(&l, &rng, x[b*h*w*ch:(b+1)*h*w*ch], out[b*h*w*ch:(b+1)*h*w*ch])
					tr = append(tr, st.Transform[:]...)
				}
				i := len(cases)
				in := filepath.Join(tmp, fmt.Sprintf("in%d.safetensors", i))
				runtime.WriteSafetensors(in, []runtime.NamedTensor{
					{Name: "x", Shape: []int{n, h, w, ch}, Data: x}, {Name: "t", Shape: []int{n, 6}, Data: tr}}, nil)
				cases = append(cases, augCase{layer: l, want: out, x: x})
				manifest = append(manifest, map[string]any{"name": fmt.Sprintf("%s/%s/%s", kind, fill, interp), "augment": true,
					"dir": tmp, "inputs": in, "result": filepath.Join(tmp, fmt.Sprintf("out%d.safetensors", i)),
					"fill_mode": fill, "interpolation": interp})
			}
		}
	}
	errsPy := runParity(t, tmp, manifest)
	worst := 0.0
	for i, c := range cases {
		name := manifest[i]["name"].(string)
		if e, ok := errsPy[name]; ok {
			t.Errorf("%s: %s", name, e)
			continue
		}
		ts, _, err := runtime.ReadSafetensors(manifest[i]["result"].(string))
		if err != nil {
			t.Fatal(err)
		}
		d, _ := maxDiff(ts[0].Data, c.want)
		worst = math.Max(worst, d)
		if d > 1e-5 {
			t.Errorf("%s(factor=%v, fill_mode=%q, interpolation=%q): PyTorch and Go differ by %.3g", c.layer.Kind, c.layer.Factor, c.layer.FillMode, c.layer.Interpolation, d)
		}
	}
	t.Logf("largest difference of the augmentation transforms: %.2g", worst)
}

// coverage counts the layer variants the cases exercise, so that a change
// to the generator that stops covering one shows in the log.
func coverage(cases []*parityCase) string {
	n := map[string]int{}
	for _, c := range cases {
		for _, l := range c.m.Layers {
			key := string(l.Kind)
			switch l.Kind {
			case dsl.KindConv2D, dsl.KindMaxPooling2D, dsl.KindAveragePooling2D:
				key += fmt.Sprintf(" %s stride%d", l.Padding, max(l.Strides[0], l.Strides[1]))
			case dsl.KindDense:
				key += " " + l.Activation
			}
			n[key]++
		}
		n[c.m.Compile.Loss]++
	}
	var parts []string
	for k, v := range n {
		parts = append(parts, fmt.Sprintf("%s: %d", k, v))
	}
	return strings.Join(sortedStrings(parts), ", ")
}

func sortedStrings(s []string) []string {
	m := map[string]string{}
	for _, x := range s {
		m[x] = x
	}
	return sortedKeys(m)
}

// TestPyTorchNames checks that layer names that would break model.py
// (Python keywords, nn.Module's attributes) are refused with the layer's
// position.
func TestPyTorchNames(t *testing.T) {
	src := "model names {\n    Input(shape=(4,))\n    Dense(3, name=\"train\")\n    Dense(2, activation=\"softmax\", name=\"lambda\")\n}\n"
	m, errs := dsl.Check("names.cnn", []byte(src))
	if errs.Err() != nil {
		t.Fatal(errs.Err())
	}
	_, err := PyTorch(m, PyTorchOptions{})
	if err == nil {
		t.Fatal("PyTorch accepted layers named train and lambda")
	}
	for _, want := range []string{`names.cnn:3:5: layer name "train"`, `names.cnn:4:5: layer name "lambda"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
