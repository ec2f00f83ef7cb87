// Package convc ties the pipeline together for the command line: it
// checks a spec, generates its package into a Go module, and builds its
// trainer. The work is in packages dsl, codegen and runtime.
package convc

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/convc/convc/codegen"
	"github.com/convc/convc/dsl"
	"github.com/convc/convc/runtime"
)

// runtimeFS is the runtime's source, so that convc can build a trainer for
// a spec anywhere on disk without network access or a checkout of convc.
//
//go:embed runtime/*.go
var runtimeFS embed.FS

// ModulePath is convc's module path.
const ModulePath = "github.com/convc/convc"

// Check parses and checks a spec file.
func Check(specPath string) (*dsl.Model, error) {
	m, errs := dsl.CheckFile(specPath)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// BuildOptions configure Build.
type BuildOptions struct {
	// OutDir is the folder of the generated package; the default is
	// generated/<model> under the current directory.
	OutDir string
	// SpecName is the spec's path as written into the generated files. The
	// default is the spec's path relative to the root of the module that
	// will hold the package, or as given when it is outside.
	SpecName string
	// ImportPath is the package's import path; the default is derived from
	// the go.mod file above OutDir.
	ImportPath string
	// Embed is a safetensors file of weights to compile into the package
	// (convc build -embed). It is checked against the model first.
	Embed string
	// Cache is the data cache that the tiled kernels are planned for; the
	// zero value means codegen.DefaultCache.
	Cache codegen.Cache
}

// Build checks the spec and writes its generated package and trainer into
// opts.OutDir. It returns the checked model and the paths written.
func Build(specPath string, opts BuildOptions) (*dsl.Model, []string, error) {
	m, err := Check(specPath)
	if err != nil {
		return nil, nil, err
	}
	if opts.OutDir == "" {
		opts.OutDir = filepath.Join("generated", m.Name)
	}
	if opts.ImportPath == "" || opts.SpecName == "" {
		root, mod, err := findModule(opts.OutDir)
		if err != nil {
			return nil, nil, err
		}
		if opts.ImportPath == "" {
			abs, _ := filepath.Abs(opts.OutDir)
			rel, err := filepath.Rel(root, abs)
			if err != nil {
				return nil, nil, err
			}
			opts.ImportPath = path.Join(mod, filepath.ToSlash(rel))
		}
		if opts.SpecName == "" {
			opts.SpecName = filepath.ToSlash(specPath)
			if abs, err := filepath.Abs(specPath); err == nil {
				if rel, err := filepath.Rel(root, abs); err == nil && !strings.HasPrefix(rel, "..") {
					opts.SpecName = filepath.ToSlash(rel)
				}
			}
		}
	}
	var embedded []byte
	if opts.Embed != "" {
		data, err := os.ReadFile(opts.Embed)
		if err != nil {
			return nil, nil, err
		}
		// Refuse weights that do not fit the model now, not when the
		// binary starts on the edge box.
		if err := runtime.LoadWeightsBytes(runtime.NewReference(codegen.RuntimeSpec(m, specPath)), opts.Embed, data); err != nil {
			return nil, nil, err
		}
		embedded = data
	}
	files, err := codegen.Generate(m, codegen.Options{SpecPath: opts.SpecName, ImportPath: opts.ImportPath, EmbedWeights: embedded != nil, Cache: opts.Cache})
	if err != nil {
		return nil, nil, err
	}
	if embedded != nil {
		files = append(files, codegen.File{Path: "weights.safetensors", Data: embedded})
	} else {
		// A package built before with -embed must not keep its weights.
		os.Remove(filepath.Join(opts.OutDir, "weights.safetensors"))
		os.Remove(filepath.Join(opts.OutDir, m.Name+"_weights.go"))
	}
	var written []string
	for _, f := range files {
		p := filepath.Join(opts.OutDir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, nil, err
		}
		if err := writeIfChanged(p, f.Data); err != nil {
			return nil, nil, err
		}
		written = append(written, p)
	}
	return m, written, nil
}

// writeIfChanged writes data to p through a temporary file and a rename,
// and leaves p alone when it already holds data, so that builds stay
// incremental.
func writeIfChanged(p string, data []byte) error {
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".convc-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %v", p, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot write %s: %v", p, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot write %s: %v", p, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot write %s: %v", p, err)
	}
	return nil
}

// findModule returns the root folder and module path of the Go module that
// contains dir (which need not exist yet).
func findModule(dir string) (root, mod string, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			sc := bufio.NewScanner(bytes.NewReader(data))
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if rest, ok := strings.CutPrefix(line, "module "); ok {
					return d, strings.Trim(strings.TrimSpace(rest), `"`), nil
				}
			}
			return "", "", fmt.Errorf("%s has no module line", filepath.Join(d, "go.mod"))
		}
		if filepath.Dir(d) == d {
			return "", "", fmt.Errorf("%s is not inside a Go module: run \"go mod init\" there first, or pass -o a folder inside your module", dir)
		}
	}
}

// GoEnv returns the environment for the go commands convc runs: the
// caller's, with GOEXPERIMENT=simd added on amd64 so that the fast
// kernels are built.
func GoEnv() []string {
	env := os.Environ()
	if goruntime.GOARCH != "amd64" {
		return env
	}
	for i, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GOEXPERIMENT="); ok {
			if !strings.Contains(v, "simd") {
				env[i] = kv + ",simd"
				if v == "" {
					env[i] = "GOEXPERIMENT=simd"
				}
			}
			return env
		}
	}
	return append(env, "GOEXPERIMENT=simd")
}

// BuildTrainer generates the spec's package into a module in convc's cache
// folder, together with a copy of the runtime, builds its trainer, and
// returns the trainer binary's path. It needs only the go command, no
// network and no checkout of convc. The kernels are planned for this
// machine's caches (codegen.DetectCache).
func BuildTrainer(specPath string) (string, *dsl.Model, error) {
	m, err := Check(specPath)
	if err != nil {
		return "", nil, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	abs, _ := filepath.Abs(specPath)
	sum := sha256.Sum256([]byte(abs))
	dir := filepath.Join(cache, "convc", m.Name+"-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, err
	}
	if err := writeIfChanged(filepath.Join(dir, "go.mod"), []byte("module "+ModulePath+"\n\ngo 1.26\n")); err != nil {
		return "", nil, err
	}
	err = fs.WalkDir(runtimeFS, "runtime", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		data, err := runtimeFS.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			return err
		}
		return writeIfChanged(filepath.Join(dir, filepath.FromSlash(p)), data)
	})
	if err != nil {
		return "", nil, err
	}
	out := filepath.Join(dir, "generated", m.Name)
	if _, _, err := Build(specPath, BuildOptions{OutDir: out, SpecName: filepath.ToSlash(specPath), ImportPath: ModulePath + "/generated/" + m.Name, Cache: codegen.DetectCache()}); err != nil {
		return "", nil, err
	}
	bin := filepath.Join(dir, "bin", m.Name)
	cmd := exec.Command("go", "build", "-o", bin, "./generated/"+m.Name+"/cmd/"+m.Name)
	cmd.Dir = dir
	cmd.Env = GoEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "", nil, fmt.Errorf("convc needs the go command on PATH to build the trainer: %v", err)
		}
		return "", nil, fmt.Errorf("building the trainer of %s failed (this is a bug in convc; please report it with the spec):\n%s", specPath, stderr.String())
	}
	return bin, m, nil
}
