package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/internal/onnx/onnxpb"
)

// tinyONNX writes a model y = Relu(x·W + b) for x of shape [N, 3].
func tinyONNX(t *testing.T, path string) {
	t.Helper()
	f := int32(onnxpb.TensorProto_FLOAT)
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("torch_jit"),
			Node: []*onnxpb.NodeProto{
				{OpType: proto.String("Gemm"), Input: []string{"x", "W", "b"}, Output: []string{"z"}, Name: proto.String("Gemm_0")},
				{OpType: proto.String("Relu"), Input: []string{"z"}, Output: []string{"y"}, Name: proto.String("Relu_1")},
			},
			Initializer: []*onnxpb.TensorProto{
				{Name: proto.String("W"), Dims: []int64{3, 2}, DataType: proto.Int32(f), FloatData: []float32{1, -1, 2, 0.5, -3, 1}},
				{Name: proto.String("b"), Dims: []int64{2}, DataType: proto.Int32(f), FloatData: []float32{0.25, -10}},
			},
			Input: []*onnxpb.ValueInfoProto{{Name: proto.String("x"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
				ElemType: proto.Int32(f), Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{
					{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}},
					{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: 3}},
				}}}}}}},
			Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y")}},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImportCommand(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "Tiny Net.onnx")
	tinyONNX(t, model)
	out := filepath.Join(dir, "out")

	code, stdout, stderr := runCmd(t, "import", "-o", out, model)
	spec, weights := filepath.Join(out, "tiny_net.cnn"), filepath.Join(out, "tiny_net.safetensors")
	if code != 0 || stderr != "" || !strings.Contains(stdout, "convc build -embed "+filepath.ToSlash(weights)+" "+filepath.ToSlash(spec)) {
		t.Fatalf("import: %d\n%s\n%s", code, stdout, stderr)
	}
	if _, errs := dsl.CheckFile(spec); errs != nil {
		t.Errorf("the written spec does not check: %v", errs)
	}
	if _, err := os.Stat(weights); err != nil {
		t.Error(err)
	}

	// -name after the file, as build takes its flags.
	if code, _, stderr := runCmd(t, "import", model, "-o", out, "-name", "mlp"); code != 0 {
		t.Errorf("import -name mlp: %d %s", code, stderr)
	} else if _, err := os.Stat(filepath.Join(out, "mlp.cnn")); err != nil {
		t.Error(err)
	}
	if code, _, stderr := runCmd(t, "import", "-name", "main", "-o", out, model); code != 1 || !strings.Contains(stderr, "model name main") {
		t.Errorf("import -name main: %d %s", code, stderr)
	}
	bad := filepath.Join(dir, "bad.onnx")
	os.WriteFile(bad, []byte("not a model"), 0o644)
	if code, _, stderr := runCmd(t, "import", bad); code != 1 || !strings.Contains(stderr, "not an ONNX model") {
		t.Errorf("import of a text file: %d %s", code, stderr)
	}
	if code, _, _ := runCmd(t, "import"); code != 2 {
		t.Errorf("import without a file: exit %d, want 2", code)
	}
}
