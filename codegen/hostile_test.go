package codegen

import (
	"github.com/convc/convc/internal/buildmode"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/convc/convc/dsl"
)

// hostile are strings that would end a comment, a docstring or a string
// literal, or act on a terminal, if a generator pasted them as they are.
var hostile = []string{
	`a"""b`,
	"a\nimport os; os.system('touch PWNED')\n#",
	`x*/ func init() { panic("PWNED") } /*`,
	`back\slash\N\x\u`,
	"ctl\x1b[31m\x07\r\x0b\x0c",
	"'''; __import__('os').system('touch PWNED'); '''",
	"\u2028line\u2029sep\u0085",
	"`raw`",
}

// TestHostileStrings puts each hostile string into every place where a
// user's string reaches generated code: the spec's file name, a
// ModelCheckpoint path, an image_directory path and VGG16's weights path
// (which also lands in a layer's source text). The Go package must build
// and vet, model.py and train.py must parse and model.py import, and
// nothing may run: no file PWNED appears and nothing panics.
func TestHostileStrings(t *testing.T) {
	buildmode.SkipInSIMDPass(t)
	if testing.Short() {
		t.Skip("builds generated packages")
	}
	dir, write := tempModule(t, "example.com/hostile")
	quote := func(s string) string {
		// The spec language escapes \\, \" and \n; other control
		// characters stand as they are.
		return strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`), "\n", `\n`)
	}
	havePy := exec.Command(python, "-c", "import torch, numpy").Run() == nil
	for i, h := range hostile {
		name := "h" + string(rune('a'+i))
		specPath := "specs/" + h + ".cnn"
		spec := `model ` + name + ` {
    Input(shape=(8, 8, 3))
    PreprocessInput(mode="torch")
    Conv2D(4, 3, activation="relu")
    Flatten()
    Dense(1, activation="sigmoid")
}
compile(optimizer="rmsprop", loss="binary_crossentropy")
fit(data=image_directory("` + quote(h) + `", image_size=(8, 8)), epochs=1,
    callbacks=[ModelCheckpoint("` + quote(h) + `.safetensors", save_best_only=True)])
`
		m, errs := dsl.Check(specPath, []byte(spec))
		if err := errs.Err(); err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		files, err := Generate(m, Options{ImportPath: "example.com/hostile/" + name})
		if err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		for _, f := range files {
			write(filepath.Join(name, f.Path), f.Data)
		}
		if !havePy {
			continue
		}
		// The PyTorch target, with VGG16's weights path too.
		vgg := strings.Replace(spec, `Conv2D(4, 3, activation="relu")`, `VGG16(include_top=False, weights="`+quote(h)+`.safetensors")`, 1)
		vgg = strings.Replace(vgg, "(8, 8", "(32, 32", 2)
		m, errs = dsl.Check(specPath, []byte(vgg))
		if err := errs.Err(); err != nil {
			t.Fatalf("%q: %v", h, err)
		}
		py, err := PyTorch(m, PyTorchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pyDir := filepath.Join(dir, "py", name)
		for _, f := range py {
			write(filepath.Join("py", name, f.Path), f.Data)
		}
		cmd := exec.Command(python, "-c", `import ast, sys
for f in ("model.py", "train.py"):
    ast.parse(open(f, encoding="utf-8").read(), f)
import model, train
assert model.SPEC_FILE == sys.argv[1], (model.SPEC_FILE, sys.argv[1])
assert model.PRETRAINED[0][1] == sys.argv[2] + ".safetensors", model.PRETRAINED[0][1]
`, dsl.CommentText(specPath), h)
		cmd.Dir = pyDir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%q: the PyTorch target does not parse or import: %v\n%s", h, err, out)
		}
		if _, err := os.Stat(filepath.Join(pyDir, "PWNED")); err == nil {
			t.Errorf("%q: importing model.py ran code", h)
		}
	}
	for _, args := range [][]string{{"vet", "./..."}} {
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "PWNED")); err == nil {
		t.Error("the generated Go code ran code")
	}
}
