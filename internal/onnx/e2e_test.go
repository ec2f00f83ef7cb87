package onnx_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/convc/convc/internal/buildmode"
	"github.com/convc/convc/internal/onnx"
	"github.com/convc/convc/internal/onnx/onnxpb"
	"github.com/convc/convc/internal/onnx/onnxtest"
)

// nodeTestDir is where Debian's libonnx-testdata puts ONNX's backend node
// tests: <test>/model.onnx and <test>/test_data_set_N/{input,output}_M.pb.
const nodeTestDir = "/usr/share/libonnx-testdata/data/node"

// nodeTestPrefixes select the node tests of the ops convc import covers:
// Conv, MaxPool, AveragePool, the global pools, BatchNormalization, Gemm
// and the activations.
var nodeTestPrefixes = []string{
	"test_conv", "test_basic_conv", "test_maxpool", "test_averagepool",
	"test_globalaveragepool", "test_globalmaxpool", "test_batchnorm",
	"test_gemm", "test_relu", "test_sigmoid", "test_tanh", "test_softmax",
}

// nodeTestsSupported are the node tests that convc import must accept and
// whose generated Go code must give ONNX's expected outputs. The list is
// written out so that the supported subset cannot shrink unnoticed: one of
// these that is refused fails the test, and so does a node test outside the
// list that is imported (add it here).
//
// A lone pool or Softmax is no convc model, which needs a layer with
// weights (and has no standalone activation layer): Import gives those an
// identity 1x1 Conv2D or Dense, which leaves the outputs as they were.
//
// The others are refused, for these reasons: an input of 1 or 3 spatial
// dimensions (the _1d and _3d tests) or of rank 3 (the lone activations
// and most Softmax tests); ConvInteger, ConvTranspose, uint8 data,
// dilations, MaxPool's second (argmax) output; Gemm with transA (the batch
// is the second dimension) or a bias that differs between the rows of the
// batch (default_matrix_bias); the _expanded forms of Softmax (ReduceMax,
// Exp, ReduceSum, Div).
var nodeTestsSupported = []string{
	// Conv, with explicit, asymmetric and auto_pad padding.
	"test_basic_conv_with_padding",
	"test_basic_conv_without_padding",
	"test_conv_with_autopad_same",
	"test_conv_with_strides_and_asymmetric_padding",
	"test_conv_with_strides_no_padding",
	"test_conv_with_strides_padding",
	// MaxPool; ceil_mode becomes padding at the bottom and right.
	"test_maxpool_2d_ceil",
	"test_maxpool_2d_default",
	"test_maxpool_2d_pads",
	"test_maxpool_2d_precomputed_pads",
	"test_maxpool_2d_precomputed_same_upper",
	"test_maxpool_2d_precomputed_strides",
	"test_maxpool_2d_same_lower",
	"test_maxpool_2d_same_upper",
	"test_maxpool_2d_strides",
	// AveragePool, with count_include_pad 0 and 1; ceil_mode with 0.
	"test_averagepool_2d_ceil",
	"test_averagepool_2d_default",
	"test_averagepool_2d_pads",
	"test_averagepool_2d_pads_count_include_pad",
	"test_averagepool_2d_precomputed_pads",
	"test_averagepool_2d_precomputed_pads_count_include_pad",
	"test_averagepool_2d_precomputed_same_upper",
	"test_averagepool_2d_precomputed_strides",
	"test_averagepool_2d_same_lower",
	"test_averagepool_2d_same_upper",
	"test_averagepool_2d_strides",
	// Gemm, with alpha and beta folded into the weights, transB, and
	// biases broadcast along the units.
	"test_gemm_alpha",
	"test_gemm_beta",
	"test_gemm_default_no_bias",
	"test_gemm_default_scalar_bias",
	"test_gemm_default_single_elem_vector_bias",
	"test_gemm_default_vector_bias",
	"test_gemm_default_zero_bias",
	"test_gemm_transposeB",
	// Softmax on a vector input [N, D].
	"test_softmax_example",
	"test_softmax_large_number",
}

// e2eCase is one ONNX model on its way through convc import and the
// generated Go code.
type e2eCase struct {
	group, name string // "node" or "torch", and the test or model name
	key         string // the model's folder in onnxtest.Run's module
	path        string // the model.onnx file
	expectOK    bool   // the importer must accept it
	about       string

	imp *onnx.Imported
	// err is Import's error, or its panic; with imp set, what is wrong
	// with what Import returned.
	err error

	// inShape and outShape are ONNX's shapes, batch first; input and want
	// are in ONNX's layout.
	inShape, outShape []int
	input, want       []float32
	// outputs is how many outputs the graph has; only the first is
	// compared, and an importer that accepts more than one is wrong.
	outputs int
	// tol is the largest difference allowed, relative to max(1, the
	// largest expected magnitude) for node tests and to the largest
	// expected magnitude for PyTorch's models.
	tol float64
}

// TestImportEndToEnd imports ONNX's backend node tests of the supported
// ops and models exported by PyTorch, runs their generated Go code, and
// compares with the outputs ONNX and PyTorch computed. All the models are
// generated into one module and run by one program (package onnxtest), so
// that the suite takes one go build.
func TestImportEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program of every imported model")
	}
	// The program is built with convc.GoEnv, as convc train builds
	// trainers: on amd64 with GOEXPERIMENT=simd whatever the test binary's
	// own mode, so the SIMD kernels that users get are what this tests.
	// Both passes of CI would build the same SIMD program, so it runs once,
	// in the portable pass, which is also what a plain go test runs (on
	// other architectures, the only pass, with the portable kernels).
	buildmode.SkipInSIMDPass(t)
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}

	node, nodeSkip := e2eNodeCases(t)
	torch, torchSkip := e2eTorchCases(t)
	skip := map[string]string{"node": nodeSkip, "torch": torchSkip}
	if nodeSkip != "" && torchSkip != "" {
		t.Skipf("no ONNX models to import: %s; %s", nodeSkip, torchSkip)
	}
	cases := append(node, torch...)

	var models []*onnxtest.Model
	for _, c := range cases {
		if c.imp == nil {
			continue
		}
		x := c.input
		if c.imp.InputNCHW {
			if len(c.inShape) != 4 {
				c.err = fmt.Errorf("the importer says the input is NCHW, but its shape is %v", c.inShape)
				continue
			}
			s := c.inShape
			x = onnxtest.CHWToHWC(x, s[0], s[1], s[2], s[3])
		}
		models = append(models, &onnxtest.Model{Key: c.key, Spec: c.imp.Spec, Weights: c.imp.Weights, Input: x})
	}
	res, err := onnxtest.Run(t.TempDir(), repo, models)
	if err != nil {
		t.Fatal(err)
	}

	var summary strings.Builder
	for _, group := range []string{"node", "torch"} {
		var passed, refused, failed []string
		t.Run(group, func(t *testing.T) {
			if skip[group] != "" {
				t.Skip(skip[group])
			}
			for _, c := range cases {
				if c.group != group {
					continue
				}
				t.Run(c.name, func(t *testing.T) {
					line, good := e2eCheck(t, c, res[c.key])
					if !good {
						failed = append(failed, c.name+": "+line)
					} else if c.imp == nil {
						refused = append(refused, c.name+": "+line)
					} else {
						passed = append(passed, c.name+": "+line)
					}
				})
			}
		})
		if len(passed)+len(refused)+len(failed) == 0 {
			continue
		}
		fmt.Fprintf(&summary, "\n%s: %d passed, %d refused, %d failed\n", group, len(passed), len(refused), len(failed))
		for _, l := range []struct {
			what  string
			lines []string
		}{{"passed", passed}, {"refused", refused}, {"FAILED", failed}} {
			for _, s := range l.lines {
				fmt.Fprintf(&summary, "  %-7s %s\n", l.what, s)
			}
		}
	}
	t.Log(summary.String())
}

// e2eCheck checks one case and returns a line for the summary, and whether
// the case is as it should be.
func e2eCheck(t *testing.T, c *e2eCase, r *onnxtest.Result) (string, bool) {
	if c.imp == nil {
		reason := strings.TrimPrefix(e2eFirstLine(c.err), c.path+": ")
		if c.expectOK {
			t.Errorf("%s must be imported (it is in the supported list), but Import refused it:\n%v", c.path, c.err)
			return "refused: " + reason, false
		}
		if msg := e2eBadMessage(c.err, c.path); msg != "" {
			t.Errorf("%s: Import refused it, but %s:\n%v", c.path, msg, c.err)
			return msg + ": " + reason, false
		}
		return reason, true
	}
	line, ok := e2eCompare(t, c, r)
	if !c.expectOK {
		t.Errorf("%s: Import accepted it, but it is not in the list of supported models (%s); if the importer supports it now, add it to the list", c.path, c.about)
		return "imported, but not in the supported list: " + line, false
	}
	return line, ok
}

// e2eCompare compares the Go model's output of a case that Import
// accepted with the expected output.
func e2eCompare(t *testing.T, c *e2eCase, r *onnxtest.Result) (string, bool) {
	if c.err != nil {
		t.Errorf("%s: %v", c.path, c.err)
		return c.err.Error(), false
	}
	if c.outputs != 1 {
		t.Errorf("%s has %d outputs, but the imported model has one", c.path, c.outputs)
		return fmt.Sprintf("imported %d outputs as one", c.outputs), false
	}
	if !token.IsIdentifier(c.imp.Name) {
		t.Errorf("%s: the imported model's name %q is not a Go identifier", c.path, c.imp.Name)
	}
	if r == nil || r.Err != nil {
		var err error
		if r != nil {
			err = r.Err
		}
		t.Errorf("%s: imported, but its generated code did not run: %v\nspec:\n%s", c.path, err, c.imp.Spec)
		return "imported, did not run: " + e2eFirstLine(err), false
	}
	got := r.Output
	if len(got) != len(c.want) {
		t.Errorf("%s: the Go model wrote %d floats for the input %v, ONNX's output %v has %d\nspec:\n%s", c.path, len(got), c.inShape, c.outShape, len(c.want), c.imp.Spec)
		return fmt.Sprintf("%d outputs, want %d", len(got), len(c.want)), false
	}
	if c.imp.OutputNCHW {
		s := c.outShape
		if len(s) != 4 {
			t.Errorf("%s: the importer says the output is NCHW, but its shape is %v", c.path, s)
			return "output NCHW but not 4-D", false
		}
		got = onnxtest.HWCToCHW(got, s[0], s[2], s[3], s[1])
	}
	d, at, top := onnxtest.Diff(got, c.want)
	bound := c.tol * top
	if c.group == "node" {
		bound = c.tol * max(1, top)
	}
	line := fmt.Sprintf("max |diff| %.2g, max |want| %.3g", d, top)
	if d > bound {
		t.Errorf("%s: output %d (of shape %v) is %g, ONNX's expected output is %g: max |diff| %.3g > %.3g\nspec:\n%s",
			c.path, at, c.outShape, got[at], c.want[at], d, bound, c.imp.Spec)
		return line, false
	}
	return line, true
}

// e2eBadMessage says what is wrong with a refusal's error, or "".
func e2eBadMessage(err error, path string) string {
	if err == nil {
		return "the error is nil"
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "panic"):
		return "Import panicked"
	case strings.TrimSpace(msg) == "":
		return "the error is empty"
	case !strings.Contains(msg, path):
		return "the error does not name the file"
	case strings.Contains(msg, "%!"), strings.Contains(msg, "<nil>"), strings.Contains(msg, "runtime error"):
		return "the error is garbled"
	}
	return ""
}

func e2eFirstLine(err error) string {
	if err == nil {
		return "<nil>"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

// e2eImport calls Import, turning a panic into an error.
func e2eImport(m *onnxpb.ModelProto, path string) (imp *onnx.Imported, err error) {
	defer func() {
		if r := recover(); r != nil {
			imp, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	imp, err = onnx.Import(m, path)
	if err == nil && imp == nil {
		err = fmt.Errorf("Import returned neither a model nor an error")
	}
	return imp, err
}

// e2eImportFile calls ImportFile, turning a panic into an error.
func e2eImportFile(path string) (imp *onnx.Imported, err error) {
	defer func() {
		if r := recover(); r != nil {
			imp, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	imp, err = onnx.ImportFile(path)
	if err == nil && imp == nil {
		err = fmt.Errorf("ImportFile returned neither a model nor an error")
	}
	return imp, err
}

// e2eNodeCases imports every node test of the supported ops. A node test
// gives the weights of Conv and Gemm as graph inputs with the data set's
// values (input_1.pb, ...), but convc compiles its weights into the model,
// so they are made initializers first: what an exporter writes. A model
// with several data sets is imported once for each.
func e2eNodeCases(t *testing.T) ([]*e2eCase, string) {
	entries, err := os.ReadDir(nodeTestDir)
	if err != nil {
		return nil, fmt.Sprintf("needs ONNX's backend node tests in %s (Debian: libonnx-testdata); .ci/run installs it", nodeTestDir)
	}
	var names []string
	for _, e := range entries {
		for _, p := range nodeTestPrefixes {
			if strings.HasPrefix(e.Name(), p) {
				names = append(names, e.Name())
				break
			}
		}
	}
	for _, n := range nodeTestsSupported {
		if !slices.Contains(names, n) {
			t.Errorf("node test %s is in the supported list but not in %s", n, nodeTestDir)
		}
	}
	var cases []*e2eCase
	for _, name := range names {
		dir := filepath.Join(nodeTestDir, name)
		path := filepath.Join(dir, "model.onnx")
		data, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
		slices.Sort(sets)
		for i, set := range sets {
			c := &e2eCase{group: "node", name: name, key: name, path: path, expectOK: slices.Contains(nodeTestsSupported, name), tol: 1e-5}
			if i > 0 {
				c.name = fmt.Sprintf("%s/%s", name, filepath.Base(set))
				c.key = fmt.Sprintf("%s_%d", name, i)
			}
			var m onnxpb.ModelProto
			if err := proto.Unmarshal(data, &m); err != nil {
				t.Errorf("%s: %v", path, err)
				continue
			}
			// Test data that is not float (ConvInteger, uint8) cannot be
			// fed to a convc model: the model is imported as it is, and
			// must be refused.
			dataErr := e2eLoadSet(c, &m, set)
			c.imp, c.err = e2eImport(&m, path)
			if c.imp != nil && dataErr != nil {
				t.Errorf("%s: imported, but its test data cannot be a convc model's: %v", path, dataErr)
				c.imp, c.err = nil, fmt.Errorf("imported, but its test data cannot be a convc model's: %v", dataErr)
			}
			cases = append(cases, c)
		}
	}
	return cases, ""
}

// e2eLoadSet reads a data set's inputs and expected outputs into c, and
// turns the graph inputs after the first into initializers.
func e2eLoadSet(c *e2eCase, m *onnxpb.ModelProto, set string) error {
	g := m.GetGraph()
	inits := map[string]bool{}
	for _, init := range g.GetInitializer() {
		inits[init.GetName()] = true
	}
	var inputs []*onnxpb.ValueInfoProto
	for _, in := range g.GetInput() {
		if !inits[in.GetName()] {
			inputs = append(inputs, in)
		}
	}
	if len(inputs) == 0 {
		return fmt.Errorf("no input")
	}
	var weights []*onnxpb.TensorProto
	for i, in := range inputs {
		tp, err := onnxtest.ReadTensor(filepath.Join(set, fmt.Sprintf("input_%d.pb", i)))
		if err != nil {
			return err
		}
		if i == 0 {
			x, err := onnxtest.Floats(tp)
			if err != nil {
				return err
			}
			c.input, c.inShape = x, e2eInts(tp.GetDims())
			continue
		}
		tp.Name = proto.String(in.GetName())
		weights = append(weights, tp)
	}
	tp, err := onnxtest.ReadTensor(filepath.Join(set, "output_0.pb"))
	if err != nil {
		return err
	}
	if c.want, err = onnxtest.Floats(tp); err != nil {
		return err
	}
	c.outShape = e2eInts(tp.GetDims())
	c.outputs = len(g.GetOutput())
	g.Initializer = append(g.Initializer, weights...)
	g.Input = slices.DeleteFunc(g.Input, func(v *onnxpb.ValueInfoProto) bool {
		return v != inputs[0] && !inits[v.GetName()]
	})
	return nil
}

func e2eInts(d []int64) []int {
	s := make([]int, len(d))
	for i, v := range d {
		s[i] = int(v)
	}
	return s
}

// torchPython is Debian's Python, which has torch 1.13 and onnx 1.12
// (python3-torch, python3-onnx); a python3 earlier on PATH may not.
const torchPython = "/usr/bin/python3"

// e2eTorchCases exports the models of testdata/torch_models.py and imports
// them.
func e2eTorchCases(t *testing.T) ([]*e2eCase, string) {
	if err := exec.Command(torchPython, "-c", "import torch, onnx").Run(); err != nil {
		return nil, fmt.Sprintf("needs %s with torch and onnx (Debian: python3-torch, python3-onnx); .ci/run installs them", torchPython)
	}
	dir := t.TempDir()
	cmd := exec.Command(torchPython, "testdata/torch_models.py", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("testdata/torch_models.py failed: %v\n%s", err, stderr.Bytes())
		return nil, ""
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Error(err)
		return nil, ""
	}
	var manifest []struct {
		Name, Model, Input, Output string
		InputShape                 []int `json:"input_shape"`
		OutputShape                []int `json:"output_shape"`
		Expect, About              string
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Error(err)
		return nil, ""
	}
	var cases []*e2eCase
	for _, e := range manifest {
		c := &e2eCase{group: "torch", name: e.Name, key: "torch_" + e.Name, path: e.Model, expectOK: e.Expect == "ok", about: e.About,
			inShape: e.InputShape, outShape: e.OutputShape, outputs: 1, tol: 1e-4}
		var err1, err2 error
		c.input, err1 = onnxtest.ReadFloats(e.Input)
		c.want, err2 = onnxtest.ReadFloats(e.Output)
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %v %v", e.Name, err1, err2)
			continue
		}
		c.imp, c.err = e2eImportFile(e.Model)
		cases = append(cases, c)
	}
	return cases, ""
}
