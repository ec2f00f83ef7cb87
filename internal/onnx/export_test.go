package onnx_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/convc/convc"
	"github.com/convc/convc/dsl"
	"github.com/convc/convc/internal/buildmode"
	"github.com/convc/convc/internal/onnx"
	"github.com/convc/convc/internal/onnx/onnxpb"
	"github.com/convc/convc/runtime"
)

// exportCases are the specs the export tests run: what a convc user
// writes, covering every layer kind the exporter maps and both pixel
// scalings of the trainer's predict. scale multiplies the random weights,
// so that a head is not saturated by caffe's [0, 255] inputs.
var exportCases = []struct {
	name  string
	spec  string
	scale float32
}{
	{"mnist", `model mnist_like {
    Input(shape=(28, 28, 1))
    Conv2D(filters=4, kernel_size=3, activation="relu")
    MaxPooling2D(pool_size=2)
    Conv2D(6, 3, activation="relu")
    Flatten()
    Dense(5, activation="softmax")
}
compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
fit(data=mnist(), epochs=1, batch_size=8)
`, 1},
	{"same", `model same_pads {
    Input(shape=(15, 15, 3))
    Rescaling(1./127.5, offset=-1)
    Conv2D(4, 3, strides=2, padding="same", activation="tanh")
    AveragePooling2D(pool_size=3, strides=2, padding="same")
    Conv2D(5, (2, 3), padding="same", activation="sigmoid", use_bias=False)
    MaxPooling2D(pool_size=2, padding="same")
    Flatten()
    Dense(3, activation="softmax")
}
fit(data=image_directory("unused", image_size=(15, 15)))
`, 1},
	{"caffe", `model caffe_rgb {
    Input(shape=(10, 10, 3))
    PreprocessInput(mode="caffe")
    RandomFlip("horizontal")
    Conv2D(3, 3, activation="relu")
    MaxPooling2D(2)
    Flatten()
    Dropout(0.5)
    Dense(1, activation="sigmoid")
}
compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
fit(data=image_directory("unused", image_size=(10, 10)))
`, 0.05},
	{"explicit", `model explicit_pads {
    Input(shape=(12, 12, 1))
    Conv2D(3, 3, strides=2, padding=1, activation="softmax")
    AveragePooling2D(3, strides=1, padding=1, count_include_pad=True)
    MaxPooling2D(2, padding=((1, 0), (1, 0)))
    Conv2D(2, 2, padding=((0, 2), (1, 0)))
}
`, 1},
}

// exportSpec writes a case's spec into a temporary folder and checks it.
func exportSpec(t *testing.T, src string) (string, *dsl.Model) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "spec.cnn")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := convc.Check(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, m
}

// randomWeights returns weights for every parameter of m: kernels
// uniform in Glorot's range times scale, biases uniform in ±0.1.
func randomWeights(m *dsl.Model, seed uint64, scale float32) []runtime.NamedTensor {
	rng := rand.New(rand.NewPCG(seed, 15))
	var ts []runtime.NamedTensor
	for _, p := range m.Params() {
		limit := float32(0.1)
		if p.FanIn+p.FanOut > 0 && strings.HasSuffix(p.Name, "/kernel") {
			limit = float32(math.Sqrt(6/float64(p.FanIn+p.FanOut))) * scale
		}
		d := make([]float32, p.Count())
		for i := range d {
			d[i] = (2*rng.Float32() - 1) * limit
		}
		ts = append(ts, runtime.NamedTensor{Name: p.Name, Shape: slices.Clone(p.Shape), Data: d})
	}
	return ts
}

// ops returns the graph's nodes as "OpType name" lines.
func ops(g *onnxpb.GraphProto) []string {
	var s []string
	for _, n := range g.GetNode() {
		s = append(s, n.GetOpType()+" "+n.GetName())
	}
	return s
}

func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func floats(t *onnxpb.TensorProto) []float32 {
	raw := t.GetRawData()
	f := make([]float32, len(raw)/4)
	for i := range f {
		f[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
	}
	return f
}

// TestExportGraph checks the graph of a small model node by node: the
// layout changes around Conv and Flatten, the pads in ONNX's order, the
// kernel transposed to (cout, cin, kh, kw), the Dense kernel as is, the
// head included, and the names a user looks for.
func TestExportGraph(t *testing.T) {
	_, m := exportSpec(t, `model small {
    Input(shape=(5, 6, 2))
    Rescaling(0.5)
    Conv2D(3, (3, 2), strides=(2, 1), padding="same", activation="relu", name="c")
    AveragePooling2D(2, padding="same")
    Flatten()
    Dense(4, activation="softmax")
}
`)
	ws := randomWeights(m, 1, 1)
	mp, err := onnx.Export(m, ws)
	if err != nil {
		t.Fatal(err)
	}
	if mp.GetIrVersion() != 8 || mp.GetOpsetImport()[0].GetVersion() != 17 || mp.GetProducerName() != "convc" {
		t.Errorf("ir_version %d, opset %v, producer %q; want 8, 17, convc", mp.GetIrVersion(), mp.GetOpsetImport(), mp.GetProducerName())
	}
	if !strings.Contains(mp.GetDocString(), m.Hash) {
		t.Errorf("doc_string %q does not name the spec's hash %s", mp.GetDocString(), m.Hash)
	}
	g := mp.GetGraph()
	want := []string{
		"Mul rescaling/scale",
		"Transpose c/to_nchw",
		"Conv c",
		"Relu c/relu",
		"AveragePool average_pooling2d",
		"Transpose flatten/to_nhwc",
		"Flatten flatten",
		"Gemm dense",
		"Softmax dense/softmax",
	}
	if got := ops(g); !slices.Equal(got, want) {
		t.Fatalf("nodes:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	nodes := g.GetNode()
	if in := nodes[0].GetInput()[0]; in != "input" {
		t.Errorf("the first node reads %q, want the graph's input", in)
	}
	if out := nodes[len(nodes)-1].GetOutput()[0]; out != "output" {
		t.Errorf("the last node writes %q, want output", out)
	}
	conv := nodes[2]
	// Layer c: "same" with a 3x2 kernel, stride (2, 1) on 5x6: rows
	// need (3-1)*2+3-5 = 2 pads (1 top, 1 bottom), columns 1 (right).
	// Pad is (top, bottom, left, right); ONNX wants [top, left, bottom, right].
	l := m.Layers[2]
	if l.Pad != [4]int{1, 1, 0, 1} {
		t.Fatalf("layer c has Pad %v; the test expects (1, 1, 0, 1)", l.Pad)
	}
	if got := attr(conv, "pads").GetInts(); !slices.Equal(got, []int64{1, 0, 1, 1}) {
		t.Errorf("Conv pads %v, want [1 0 1 1]", got)
	}
	if got := attr(conv, "strides").GetInts(); !slices.Equal(got, []int64{2, 1}) {
		t.Errorf("Conv strides %v, want [2 1]", got)
	}
	if got := attr(conv, "kernel_shape").GetInts(); !slices.Equal(got, []int64{3, 2}) {
		t.Errorf("Conv kernel_shape %v, want [3 2]", got)
	}
	pool := nodes[4]
	if got := attr(pool, "count_include_pad"); got == nil || got.GetI() != 0 {
		t.Errorf("AveragePool count_include_pad %v, want 0 (Keras's rule)", got)
	}
	if got := attr(nodes[5], "perm").GetInts(); !slices.Equal(got, []int64{0, 2, 3, 1}) {
		t.Errorf("Transpose before Flatten has perm %v, want [0 2 3 1]", got)
	}
	if got := attr(nodes[8], "axis").GetI(); got != -1 {
		t.Errorf("Softmax axis %d, want -1", got)
	}
	inits := map[string]*onnxpb.TensorProto{}
	for _, in := range g.GetInitializer() {
		inits[in.GetName()] = in
	}
	if got := conv.GetInput()[1:]; !slices.Equal(got, []string{"c/kernel", "c/bias"}) {
		t.Errorf("Conv reads %v, want c/kernel and c/bias", got)
	}
	k := inits["c/kernel"]
	if !slices.Equal(k.GetDims(), []int64{3, 2, 3, 2}) {
		t.Fatalf("c/kernel has dims %v, want (cout, cin, kh, kw) = [3 2 3 2]", k.GetDims())
	}
	kd := floats(k)
	for ky := range 3 {
		for kx := range 2 {
			for ci := range 2 {
				for co := range 3 {
					src := ws[0].Data[((ky*2+kx)*2+ci)*3+co]
					if got := kd[((co*2+ci)*3+ky)*2+kx]; got != src {
						t.Fatalf("c/kernel[co=%d, ci=%d, ky=%d, kx=%d] = %v, want convc's [%d, %d, %d, %d] = %v", co, ci, ky, kx, got, ky, kx, ci, co, src)
					}
				}
			}
		}
	}
	dk := inits["dense/kernel"]
	if !slices.Equal(dk.GetDims(), []int64{2 * 3 * 3, 4}) || !slices.Equal(floats(dk), ws[2].Data) {
		t.Errorf("dense/kernel has dims %v; want convc's (in, units) = [18 4] with the same values", dk.GetDims())
	}
	if s := inits["rescaling/scale"]; len(s.GetDims()) != 0 || floats(s)[0] != 0.5 {
		t.Errorf("rescaling/scale is %v, want the scalar 0.5", s)
	}
	dims := func(v *onnxpb.ValueInfoProto) string {
		var s []string
		for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
			if d.GetDimParam() != "" {
				s = append(s, d.GetDimParam())
			} else {
				s = append(s, fmt.Sprint(d.GetDimValue()))
			}
		}
		return v.GetName() + " [" + strings.Join(s, " ") + "]"
	}
	if got := dims(g.GetInput()[0]); got != "input [batch 5 6 2]" {
		t.Errorf("graph input %s, want input [batch 5 6 2]", got)
	}
	if got := dims(g.GetOutput()[0]); got != "output [batch 4]" {
		t.Errorf("graph output %s, want output [batch 4]", got)
	}
	if _, err := proto.Marshal(mp); err != nil {
		t.Fatal(err)
	}
}

// TestExportWeightErrors checks that every wrong tensor of a weights file
// is reported at once with the file's name, and that NaNs are refused.
func TestExportWeightErrors(t *testing.T) {
	_, m := exportSpec(t, exportCases[0].spec)
	ws := randomWeights(m, 2, 1)
	// conv2d/bias goes missing, dense/kernel gets a wrong shape and an
	// extra tensor appears.
	var bad []runtime.NamedTensor
	for _, w := range ws {
		switch w.Name {
		case "conv2d/bias":
			continue
		case "dense/kernel":
			w.Shape = []int{w.Shape[1], w.Shape[0]}
		}
		bad = append(bad, w)
	}
	bad = append(bad, runtime.NamedTensor{Name: "extra", Shape: []int{1}, Data: []float32{0}})
	dir := t.TempDir()
	path := filepath.Join(dir, "w.safetensors")
	if err := runtime.WriteSafetensors(path, bad, nil); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out", "model.onnx")
	err := onnx.ExportFile(m, path, out)
	if err == nil {
		t.Fatal("ExportFile accepted weights with a missing, a misshapen and an extra tensor")
	}
	for _, want := range []string{path, "missing tensor conv2d/bias (4)", "tensor dense/kernel has shape (5, 726), the model needs (726, 5)", "unexpected tensor extra (1)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Dir(out)); err == nil {
		t.Errorf("a failed export created %s", filepath.Dir(out))
	}
	ws[1].Data[2] = float32(math.NaN())
	if err := runtime.WriteSafetensors(path, ws, nil); err != nil {
		t.Fatal(err)
	}
	if err := onnx.ExportFile(m, path, out); err == nil || !strings.Contains(err.Error(), "conv2d/bias") {
		t.Errorf("ExportFile of weights with a NaN: err = %v, want an error naming conv2d/bias", err)
	}
}

// exportCase exports a case with random weights into dir and returns the
// paths of the model and the weights.
func exportCase(t *testing.T, dir string, m *dsl.Model, seed uint64, scale float32) (string, string) {
	t.Helper()
	w := filepath.Join(dir, m.Name+".safetensors")
	if err := runtime.WriteSafetensors(w, randomWeights(m, seed, scale), map[string]string{"classes": `["a","b"]`}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, m.Name, "model.onnx")
	if err := onnx.ExportFile(m, w, out); err != nil {
		t.Fatal(err)
	}
	return out, w
}

// TestExportONNXChecker gives every exported case to ONNX's own checker
// (full_check, which runs strict shape inference too), and checks that
// the shape ONNX infers for the output is the one the graph declares.
func TestExportONNXChecker(t *testing.T) {
	buildmode.SkipInSIMDPass(t)
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		t.Skip("needs python3 with onnx (Debian: python3-onnx); .ci/run installs it")
	}
	dir := t.TempDir()
	var paths []string
	for i, c := range exportCases {
		_, m := exportSpec(t, c.spec)
		p, _ := exportCase(t, dir, m, uint64(i), c.scale)
		paths = append(paths, p)
	}
	out, err := exec.Command(py, append([]string{"-c", `import sys, onnx
for path in sys.argv[1:]:
    onnx.checker.check_model(path, full_check=True)
    m = onnx.shape_inference.infer_shapes(onnx.load(path), check_type=True, strict_mode=True)
    dims = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
    inferred = {v.name: dims(v) for v in m.graph.value_info}
    out = m.graph.output[0]
    props = {p.key: p.value for p in m.metadata_props}
    print(path, m.opset_import[0].version, dims(out), len(m.graph.value_info), props.get("classes"))
`}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("ONNX rejects an exported model: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(paths) {
		t.Fatalf("checker printed:\n%s", out)
	}
	for i, line := range lines {
		_, m := exportSpec(t, exportCases[i].spec)
		want := "['batch'"
		for _, d := range m.Output() {
			want += fmt.Sprintf(", %d", d)
		}
		want += "]"
		if f := strings.Fields(line); len(f) < 2 || f[1] != "17" || !strings.Contains(line, want) || !strings.HasSuffix(line, `["a","b"]`) {
			t.Errorf("%s: checker says %q; want opset 17, output %s and the classes", exportCases[i].name, line, want)
		}
	}
}

// ortNodeModules returns the node_modules folder holding onnxruntime-node:
// $CONVC_ORT_NODE/node_modules, or <user cache>/convc/ort/node_modules.
func ortNodeModules(t *testing.T) string {
	t.Helper()
	const how = "install it with: ONNXRUNTIME_NODE_INSTALL=skip npm install --no-save --prefix DIR onnxruntime-node@1.30.0 and set CONVC_ORT_NODE=DIR (default DIR: <user cache>/convc/ort); .ci/run does it"
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs node with onnxruntime-node from npm (Debian: nodejs npm); " + how)
	}
	dir := os.Getenv("CONVC_ORT_NODE")
	if dir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			t.Skip("no user cache folder for onnxruntime-node; " + how)
		}
		dir = filepath.Join(cache, "convc", "ort")
	}
	nm := filepath.Join(dir, "node_modules")
	if _, err := os.Stat(filepath.Join(nm, "onnxruntime-node", "package.json")); err != nil {
		t.Skipf("needs onnxruntime-node in %s; %s", nm, how)
	}
	abs, err := filepath.Abs(nm)
	if err != nil {
		t.Fatal(err)
	}
	// The package's native library must load in this node (it needs a
	// recent one; Debian 12's node 18 is the oldest it was meant for).
	probe := exec.Command("node", "-e", "require('onnxruntime-node')")
	probe.Env = append(os.Environ(), "NODE_PATH="+abs)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("onnxruntime-node in %s does not load in this node: %v\n%s", abs, err, out)
	}
	return abs
}

// writeImages writes n random images of the model's input size as PNG
// files and returns their paths.
func writeImages(t *testing.T, dir string, in dsl.Shape, n int, seed uint64) []string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var paths []string
	for i := range n {
		var img image.Image
		if in[2] == 1 {
			g := image.NewGray(image.Rect(0, 0, in[1], in[0]))
			for j := range g.Pix {
				g.Pix[j] = uint8(rng.IntN(256))
			}
			img = g
		} else {
			c := image.NewNRGBA(image.Rect(0, 0, in[1], in[0]))
			for y := range in[0] {
				for x := range in[1] {
					c.SetNRGBA(x, y, color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255})
				}
			}
			img = c
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, fmt.Sprintf("img%d.png", i))
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// TestExportORT runs exported models with onnxruntime-node and compares
// their outputs with the Go trainer's predict on the same images, to
// 1e-5. The trainer is built with the SIMD kernels in both passes of CI
// (convc.BuildTrainer), so the test runs in the portable pass only.
func TestExportORT(t *testing.T) {
	buildmode.SkipInSIMDPass(t)
	if testing.Short() {
		t.Skip("builds a trainer per case; skipped with -short")
	}
	nm := ortNodeModules(t)
	script, err := filepath.Abs(filepath.Join("testdata", "ort_run.js"))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range exportCases {
		t.Run(c.name, func(t *testing.T) {
			specPath, m := exportSpec(t, c.spec)
			bin, _, err := convc.BuildTrainer(specPath)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			model, weights := exportCase(t, dir, m, uint64(100+i), c.scale)
			in := m.Input()
			images := writeImages(t, dir, in, 3, uint64(i))

			// The trainer's predict: one JSON line per image.
			cmd := exec.Command(bin, append([]string{"predict", "-weights", weights}, images...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("predict: %v\n%s", err, stderr.Bytes())
			}
			var want [][]float32
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				var r struct{ Probabilities []float32 }
				if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
					t.Fatalf("predict printed %q: %v", sc.Text(), err)
				}
				want = append(want, r.Probabilities)
			}
			if len(want) != len(images) {
				t.Fatalf("predict printed %d lines for %d images:\n%s", len(want), len(images), out)
			}

			// The same pixels as predict feeds the network: divided by
			// 255 for mnist() (and specs without a data source), left in
			// [0, 255] for image_directory().
			divide := m.Fit.Data.Kind == "mnist" || m.Fit.Data.Kind == ""
			var x []float64
			for _, p := range images {
				px, err := runtime.LoadImageFile(p, in[0], in[1], in[2], 1)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range px {
					if divide {
						v /= 255
					}
					x = append(x, float64(v))
				}
			}
			js, err := json.Marshal(map[string]any{"shape": append([]int{len(images)}, in...), "data": x})
			if err != nil {
				t.Fatal(err)
			}
			inPath := filepath.Join(dir, "input.json")
			if err := os.WriteFile(inPath, js, 0o644); err != nil {
				t.Fatal(err)
			}
			node := exec.Command("node", script, model, inPath)
			node.Env = append(os.Environ(), "NODE_PATH="+nm)
			stderr.Reset()
			node.Stderr = &stderr
			out, err = node.Output()
			if err != nil {
				t.Fatalf("onnxruntime-node: %v\n%s", err, stderr.Bytes())
			}
			var got struct {
				Shape   []int
				Data    []float64
				Version string
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("ort_run.js printed %q: %v", out, err)
			}
			wantShape := append([]int{len(images)}, m.Output()...)
			if !slices.Equal(got.Shape, wantShape) {
				t.Fatalf("onnxruntime's output has shape %v, want %v", got.Shape, wantShape)
			}
			per := m.Output().Size()
			maxDiff := 0.0
			for k, w := range want {
				for j, v := range w {
					g := got.Data[k*per+j]
					d := math.Abs(g - float64(v))
					maxDiff = max(maxDiff, d)
					if d > 1e-5*max(1, math.Abs(float64(v))) {
						t.Errorf("image %d, output %d: onnxruntime %v, predict %v (difference %.3g)", k, j, g, v, d)
					}
				}
			}
			t.Logf("%s: %d images, %d outputs each; largest difference %.3g (onnxruntime-node %s); predict's first: %v", m.Name, len(images), per, maxDiff, got.Version, want[0][:min(per, 5)])
		})
	}
}
