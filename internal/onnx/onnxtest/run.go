package onnxtest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"go/format"
	"go/token"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/convc/convc"
	"github.com/convc/convc/runtime"
)

// Model is one imported model and the samples to run through its
// generated code.
type Model struct {
	// Key names the model's folder in the module; it must be a Go
	// identifier, unique among the models of one Run. It need not be the
	// spec's model name: two imported specs may both be called "model".
	Key string
	// Spec is the imported .cnn text.
	Spec []byte
	// Weights are the parameters in convc's names and layouts.
	Weights []runtime.NamedTensor
	// Input holds the samples in the spec's input layout (HWC for images),
	// one after another.
	Input []float32
}

// Result is what became of one model.
type Result struct {
	// Output holds what Predict wrote for every sample, in the spec's
	// output layout, one sample after another.
	Output []float32
	// Err says why the model has no output: its spec did not build, its
	// package did not compile, or the program refused its weights or input.
	Err error
}

// manifestEntry tells the program what to run; the program answers with
// the same entries, Err filled when a model failed.
type manifestEntry struct {
	Key     string `json:"key"`
	Weights string `json:"weights"` // "" when the model has no parameters
	Input   string `json:"input"`
	Output  string `json:"output"`
	Err     string `json:"error,omitempty"`
}

// modulePath is the temporary module's path.
const modulePath = "convc.test/onnxe2e"

// Run generates the package of every model into a module in dir (which
// should be empty) with convc.Build, builds one program that imports them
// all, runs it, and returns each model's result by key. repo is the root of
// convc's checkout, which the module replaces github.com/convc/convc with,
// so that the runtime compiles once into the build cache and stays there
// between runs. The program is built with convc.GoEnv, the environment
// convc build and convc train use: on amd64 the generated SIMD kernels run.
//
// A model whose spec does not build, or whose package does not compile, is
// reported in its Result and left out of the program; the error returned
// is for failures that concern every model.
func Run(dir, repo string, models []*Model) (map[string]*Result, error) {
	res := make(map[string]*Result, len(models))
	for _, m := range models {
		if !token.IsIdentifier(m.Key) {
			return nil, fmt.Errorf("onnxtest: model key %q is not a Go identifier", m.Key)
		}
		if res[m.Key] != nil {
			return nil, fmt.Errorf("onnxtest: two models have the key %q", m.Key)
		}
		res[m.Key] = &Result{}
	}
	sum, err := os.ReadFile(filepath.Join(repo, "go.sum"))
	if err != nil {
		return nil, err
	}
	goMod := "module " + modulePath + "\n\ngo 1.26\n\nrequire " + convc.ModulePath + " v0.0.0\n\nreplace " + convc.ModulePath + " => " + repo + "\n"
	if err := writeFile(filepath.Join(dir, "go.mod"), []byte(goMod)); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, "go.sum"), sum); err != nil {
		return nil, err
	}

	var live []*Model
	for _, m := range models {
		if err := generate(dir, m); err != nil {
			res[m.Key].Err = err
			continue
		}
		live = append(live, m)
	}

	// A package that does not compile fails only its own model: the
	// compiler names its folder, so the program is built again without it.
	bin := filepath.Join(dir, "bin", "run")
	for {
		if len(live) == 0 {
			return res, nil
		}
		if err := writeMain(dir, live); err != nil {
			return nil, err
		}
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/run")
		cmd.Dir = dir
		cmd.Env = convc.GoEnv()
		out, err := cmd.CombinedOutput()
		if err == nil {
			break
		}
		bad := failedKeys(string(out), live)
		if len(bad) == 0 {
			return nil, fmt.Errorf("building the program of %d imported models failed: %v\n%s", len(live), err, out)
		}
		var keep []*Model
		for _, m := range live {
			if bad[m.Key] {
				res[m.Key].Err = fmt.Errorf("the generated package does not compile:\n%s", compilerLines(string(out), m.Key))
				continue
			}
			keep = append(keep, m)
		}
		live = keep
	}

	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	var manifest []manifestEntry
	for _, m := range live {
		e := manifestEntry{
			Key:    m.Key,
			Input:  filepath.Join(dir, "data", m.Key+".in"),
			Output: filepath.Join(dir, "data", m.Key+".out"),
		}
		if len(m.Weights) > 0 {
			e.Weights = filepath.Join(dir, "data", m.Key+".safetensors")
			if err := runtime.WriteSafetensors(e.Weights, m.Weights, nil); err != nil {
				return nil, err
			}
		}
		if err := WriteFloats(e.Input, m.Input); err != nil {
			return nil, err
		}
		manifest = append(manifest, e)
	}
	data, err := json.MarshalIndent(manifest, "", "\t")
	if err != nil {
		return nil, err
	}
	mpath := filepath.Join(dir, "data", "manifest.json")
	if err := writeFile(mpath, data); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, mpath)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("the program of the imported models failed: %v\n%s", err, stderr.Bytes())
	}
	var answers []manifestEntry
	if err := json.Unmarshal(out, &answers); err != nil {
		return nil, fmt.Errorf("the program of the imported models wrote %q: %v", out, err)
	}
	for _, a := range answers {
		r := res[a.Key]
		if r == nil {
			return nil, fmt.Errorf("the program answered for an unknown model %q", a.Key)
		}
		if a.Err != "" {
			r.Err = fmt.Errorf("%s", a.Err)
			continue
		}
		if r.Output, err = ReadFloats(a.Output); err != nil {
			r.Err = err
		}
	}
	return res, nil
}

// generate writes the model's spec and builds its package into
// models/<key>.
func generate(dir string, m *Model) error {
	spec := filepath.Join(dir, "specs", m.Key+".cnn")
	if err := writeFile(spec, m.Spec); err != nil {
		return err
	}
	_, _, err := convc.Build(spec, convc.BuildOptions{
		OutDir:     filepath.Join(dir, "models", m.Key),
		SpecName:   m.Key + ".cnn",
		ImportPath: modulePath + "/models/" + m.Key,
	})
	if err != nil {
		return fmt.Errorf("convc build of the imported spec failed:\n%v\nspec:\n%s", err, m.Spec)
	}
	return nil
}

// failedKeys returns the models whose folders the compiler's output names.
func failedKeys(out string, live []*Model) map[string]bool {
	bad := map[string]bool{}
	for _, m := range live {
		if regexp.MustCompile(`(^|[\s/])models/` + m.Key + `/`).MatchString(out) {
			bad[m.Key] = true
		}
	}
	return bad
}

// compilerLines keeps the compiler's lines about one model's folder.
func compilerLines(out, key string) string {
	var keep []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "models/"+key+"/") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// writeMain writes the program: a table of the models' constructors and a
// loop that runs the manifest through them.
func writeMain(dir string, live []*Model) error {
	sorted := append([]*Model(nil), live...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	var imports, table strings.Builder
	for i, m := range sorted {
		fmt.Fprintf(&imports, "\tm%d %q\n", i, modulePath+"/models/"+m.Key)
		fmt.Fprintf(&table, "\t%q: func() model { return m%d.New() },\n", m.Key, i)
	}
	src := strings.NewReplacer("IMPORTS\n", imports.String(), "TABLE\n", table.String()).Replace(mainTemplate)
	formatted, err := format.Source([]byte(src))
	if err != nil {
		return fmt.Errorf("onnxtest: the program does not parse: %v\n%s", err, src)
	}
	return writeFile(filepath.Join(dir, "cmd", "run", "main.go"), formatted)
}

const mainTemplate = `// Command run runs imported ONNX models through their generated packages:
// it reads a JSON manifest of models with their weights and inputs, writes
// each model's outputs, and prints the manifest back with the errors.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/convc/convc/runtime"
IMPORTS
)

// model is what every generated package's Model provides.
type model interface {
	Spec() *runtime.Spec
	Params() [][]float32
	LoadWeights(path string) error
	PredictBatch(xs, probs []float32) error
}

var models = map[string]func() model{
TABLE
}

type entry struct {
	Key     string ` + "`json:\"key\"`" + `
	Weights string ` + "`json:\"weights\"`" + `
	Input   string ` + "`json:\"input\"`" + `
	Output  string ` + "`json:\"output\"`" + `
	Err     string ` + "`json:\"error,omitempty\"`" + `
}

func main() {
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var entries []entry
	if err := json.Unmarshal(data, &entries); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for i := range entries {
		if err := run(&entries[i]); err != nil {
			entries[i].Err = err.Error()
		}
	}
	out, _ := json.Marshal(entries)
	os.Stdout.Write(out)
}

// run runs one model, turning a panic into its error so that the others
// still run.
func run(e *entry) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	newModel := models[e.Key]
	if newModel == nil {
		return fmt.Errorf("no model %q in the program", e.Key)
	}
	m := newModel()
	if e.Weights != "" {
		if err := m.LoadWeights(e.Weights); err != nil {
			return err
		}
	} else {
		m.Params() // no parameters: marks the model ready
	}
	raw, err := os.ReadFile(e.Input)
	if err != nil {
		return err
	}
	x := make([]float32, len(raw)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	in, out := m.Spec().InputSize(), m.Spec().OutputSize()
	if len(x)%in != 0 {
		return fmt.Errorf("%d input floats are not a whole number of samples of %d", len(x), in)
	}
	y := make([]float32, len(x)/in*out)
	if err := m.PredictBatch(x, y); err != nil {
		return err
	}
	buf := make([]byte, 4*len(y))
	for i, v := range y {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return os.WriteFile(e.Output, buf, 0o644)
}
`

// WriteFloats writes x as raw little-endian float32s.
func WriteFloats(path string, x []float32) error {
	buf := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	return writeFile(path, buf)
}

// ReadFloats reads raw little-endian float32s.
func ReadFloats(path string) ([]float32, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(raw)%4 != 0 {
		return nil, fmt.Errorf("%s: %d bytes are not a whole number of float32s", path, len(raw))
	}
	x := make([]float32, len(raw)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return x, nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
