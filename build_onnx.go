package convc

import (
	"path/filepath"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/internal/onnx"
)

// BuildONNX checks the spec and writes it with the weights of the
// safetensors file weightsPath as an ONNX model, model.onnx, into outDir
// (default onnx/<model> under the current folder). It returns the checked
// model and the path written.
func BuildONNX(specPath, weightsPath, outDir string) (*dsl.Model, string, error) {
	m, err := Check(specPath)
	if err != nil {
		return nil, "", err
	}
	if outDir == "" {
		outDir = filepath.Join("onnx", m.Name)
	}
	p := filepath.Join(outDir, "model.onnx")
	if err := onnx.ExportFile(m, weightsPath, p); err != nil {
		return nil, "", err
	}
	return m, p, nil
}
