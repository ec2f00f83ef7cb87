package convc

import (
	"os"
	"path/filepath"

	"github.com/convc/convc/codegen"
	"github.com/convc/convc/dsl"
)

// BuildPyTorch checks the spec and writes its PyTorch target, model.py and
// train.py, into outDir (default pytorch/<model> under the current
// folder). It returns the checked model and the paths written.
func BuildPyTorch(specPath, outDir string) (*dsl.Model, []string, error) {
	m, err := Check(specPath)
	if err != nil {
		return nil, nil, err
	}
	if outDir == "" {
		outDir = filepath.Join("pytorch", m.Name)
	}
	files, err := codegen.PyTorch(m, codegen.PyTorchOptions{SpecPath: filepath.ToSlash(specPath)})
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, nil, err
	}
	var written []string
	for _, f := range files {
		p := filepath.Join(outDir, f.Path)
		if err := writeIfChanged(p, f.Data); err != nil {
			return nil, nil, err
		}
		written = append(written, p)
	}
	return m, written, nil
}
