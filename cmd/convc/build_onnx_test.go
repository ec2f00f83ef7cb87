package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/convc/convc"
	"github.com/convc/convc/internal/onnx/onnxpb"
	"github.com/convc/convc/runtime"
)

// TestBuildONNX runs convc build -target onnx as the README's user does:
// with the default folder onnx/<model>, with -o, and with the flag
// mistakes it refuses.
func TestBuildONNX(t *testing.T) {
	spec, err := filepath.Abs("../../specs/mnist.cnn")
	if err != nil {
		t.Fatal(err)
	}
	m, err := convc.Check(spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	weights := filepath.Join(dir, "w.safetensors")
	var ts []runtime.NamedTensor
	for _, p := range m.Params() {
		ts = append(ts, runtime.NamedTensor{Name: p.Name, Shape: p.Shape, Data: make([]float32, p.Count())})
	}
	if err := runtime.WriteSafetensors(weights, ts, nil); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	code, out, errOut := runCmd(t, "build", "-target", "onnx", "-weights", weights, spec)
	want := filepath.Join("onnx", "mnist", "model.onnx")
	if code != 0 || !strings.Contains(out, "into "+want) {
		t.Fatalf("exit %d, stdout %q, stderr %q; want %s written", code, out, errOut, want)
	}
	data, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil || mp.GetGraph().GetName() != "mnist" {
		t.Fatalf("%s: %v, graph %q", want, err, mp.GetGraph().GetName())
	}
	other := filepath.Join(dir, "other")
	if code, out, errOut := runCmd(t, "build", "-q", "-o", other, "-target", "onnx", spec, "-weights", weights); code != 0 || out != "" {
		t.Errorf("-q -o: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(other, "model.onnx")); err != nil {
		t.Error(err)
	}

	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-target", "onnx"}, 2, "-target onnx needs -weights"},
		{[]string{"-weights", weights}, 2, "-weights works with -target onnx only"},
		{[]string{"-target", "pytorch", "-weights", weights}, 2, "-weights works with -target onnx only"},
		{[]string{"-target", "onnx", "-weights", weights, "-embed", weights}, 2, "-embed works with -target go only"},
		{[]string{"-target", "onnx", "-weights", filepath.Join(dir, "missing.safetensors")}, 1, "missing.safetensors"},
	} {
		code, _, errOut := runCmd(t, append(append([]string{"build"}, c.args...), spec)...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("convc build %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), code, errOut, c.code, c.want)
		}
	}
}
