package onnxpb

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// tinyModel is y = Relu(x·W + b) for a 1x3 input and 3x2 weights, in
// opset 13: what the exporter will write, at its smallest.
func tinyModel() *ModelProto {
	f := TensorProto_FLOAT
	i64 := func(v int64) *int64 { return &v }
	s := proto.String
	input := func(name string, dims ...int64) *ValueInfoProto {
		var d []*TensorShapeProto_Dimension
		for _, n := range dims {
			d = append(d, &TensorShapeProto_Dimension{Value: &TensorShapeProto_Dimension_DimValue{DimValue: n}})
		}
		return &ValueInfoProto{Name: s(name), Type: &TypeProto{Value: &TypeProto_TensorType{TensorType: &TypeProto_Tensor{
			ElemType: proto.Int32(int32(f)), Shape: &TensorShapeProto{Dim: d}}}}}
	}
	return &ModelProto{
		IrVersion:    i64(8),
		ProducerName: s("convc"),
		OpsetImport:  []*OperatorSetIdProto{{Domain: s(""), Version: i64(13)}},
		Graph: &GraphProto{
			Name: s("tiny"),
			Node: []*NodeProto{
				{OpType: s("Gemm"), Input: []string{"x", "W", "b"}, Output: []string{"z"}, Name: s("dense")},
				{OpType: s("Relu"), Input: []string{"z"}, Output: []string{"y"}, Name: s("relu")},
			},
			Initializer: []*TensorProto{
				{Name: s("W"), Dims: []int64{3, 2}, DataType: proto.Int32(int32(f)), FloatData: []float32{1, -1, 2, 0.5, -3, 1}},
				{Name: s("b"), Dims: []int64{2}, DataType: proto.Int32(int32(f)), FloatData: []float32{0.25, -10}},
			},
			Input:  []*ValueInfoProto{input("x", 1, 3)},
			Output: []*ValueInfoProto{input("y", 1, 2)},
		},
	}
}

// TestRoundTrip marshals a model and reads it back.
func TestRoundTrip(t *testing.T) {
	b, err := proto.Marshal(tinyModel())
	if err != nil {
		t.Fatal(err)
	}
	var m ModelProto
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&m, tinyModel()) || m.GetGraph().GetNode()[1].GetOpType() != "Relu" {
		t.Errorf("read back %v", &m)
	}
}

// TestONNXChecker gives a model built with these bindings to ONNX's own
// checker and shape inference (Debian's python3-onnx), and runs it with
// ONNX's reference NumPy implementation of Gemm and Relu: the bindings
// write files that other engines accept.
func TestONNXChecker(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import onnx").Run(); err != nil {
		t.Skip("needs python3 with onnx (Debian: python3-onnx); .ci/run installs it")
	}
	b, err := proto.Marshal(tinyModel())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import sys, onnx, numpy as np
from onnx import numpy_helper
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
onnx.shape_inference.infer_shapes(m, strict_mode=True)
w = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
x = np.array([[3, 2, 1]], dtype=np.float32)
print(" ".join("%.6g" % v for v in np.maximum(x @ w["W"] + w["b"], 0).ravel()))
`, path).CombinedOutput()
	if err != nil {
		t.Fatalf("ONNX rejects the model: %v\n%s", err, out)
	}
	// x·W + b = (3+4-3+0.25, -3+1+1-10) = (4.25, -11): Relu gives 4.25, 0,
	// computed here in Go as well.
	x, w, bias := []float32{3, 2, 1}, []float32{1, -1, 2, 0.5, -3, 1}, []float32{0.25, -10}
	var want []string
	for j := range 2 {
		z := bias[j]
		for i := range 3 {
			z += x[i] * w[i*2+j]
		}
		want = append(want, fmt.Sprintf("%.6g", math.Max(float64(z), 0)))
	}
	if got := strings.TrimSpace(string(out)); got != strings.Join(want, " ") {
		t.Errorf("ONNX computes %q, want %q", got, strings.Join(want, " "))
	}
}
