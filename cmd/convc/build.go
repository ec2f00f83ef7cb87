package main

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/convc/convc"
	"github.com/convc/convc/codegen"
	"github.com/convc/convc/dsl"
)

func init() {
	register(&command{
		Name:  "build",
		Usage: "convc build [-target go|pytorch|onnx] [-o DIR] [-weights W] [-cache C] [-explain] FILE",
		Short: "generate the model's Go package and trainer, its PyTorch target, or its ONNX model",
		Run:   runBuild,
	})
}

func runBuild(args []string) int {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: convc build [-target go|pytorch|onnx] [-o DIR] [-weights W] [-cache C] [-explain] FILE

Build checks the spec and writes its Go package into DIR (default
generated/<model>): <model>.go with kernels specialized to the model's
shapes, <model>_test.go, and the trainer's main package in cmd/<model>.
Convolutions too large for the caches run a tiled kernel planned for
the caches of -cache; -explain prints each layer's plan.
DIR must be inside a Go module that requires github.com/convc/convc.
Build the trainer with "go build ./DIR/cmd/<model>".

With -target pytorch, build writes model.py (the model as a PyTorch
nn.Module) and train.py (its compile and fit, runnable with python3 or
torchrun) into DIR (default pytorch/<model>).

With -target onnx, build writes the model with the weights of
-weights W.safetensors as DIR/model.onnx (default DIR: onnx/<model>), in
ONNX opset 17. Its input "input" is [batch, height, width, channels], the
trainer's layout, and its output "output" includes the softmax or
sigmoid head.

Flags:
`)
		fs.PrintDefaults()
	}
	out := fs.String("o", "", "output folder (default generated/<model>, pytorch/<model> for -target pytorch, onnx/<model> for -target onnx)")
	target := fs.String("target", "go", "what to generate: go (the Go package and trainer), pytorch (model.py and train.py) or onnx (model.onnx)")
	weights := fs.String("weights", "", "safetensors file of the weights to export (required with -target onnx, and only there)")
	embed := fs.String("embed", "", "compile the weights of this safetensors file into the Go package (go:embed), so the trainer's predict needs no weights file")
	cacheFlag := fs.String("cache", "host", "the data caches to plan the tiled kernels for: host (read from this machine), default (32K,512K, as the committed packages use) or L1,L2 such as 48K,1M")
	explain := fs.Bool("explain", false, "print the kernel plan of each layer instead of writing files")
	quiet := fs.Bool("q", false, "print nothing on success")
	files, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintln(stderr, "convc build: need exactly one spec file")
		fs.Usage()
		return 2
	}
	cache, err := codegen.ParseCache(*cacheFlag)
	if err != nil {
		fmt.Fprintln(stderr, "convc build:", err)
		return 2
	}
	if *explain {
		m, err := convc.Check(files[0])
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		fmt.Fprint(stdout, codegen.Explain(m, codegen.Options{SpecPath: files[0], Cache: cache}))
		return 0
	}
	if *weights != "" && *target != "onnx" {
		fmt.Fprintln(stderr, "convc build: -weights works with -target onnx only; to compile weights into the Go package, use -embed")
		return 2
	}
	var m *dsl.Model
	var written []string
	switch *target {
	case "go":
		m, written, err = convc.Build(files[0], convc.BuildOptions{OutDir: *out, Embed: *embed, Cache: cache})
	case "pytorch":
		if *embed != "" {
			fmt.Fprintln(stderr, "convc build: -embed works with -target go only")
			return 2
		}
		m, written, err = convc.BuildPyTorch(files[0], *out)
	case "onnx":
		if *embed != "" {
			fmt.Fprintln(stderr, "convc build: -embed works with -target go only")
			return 2
		}
		if *weights == "" {
			fmt.Fprintln(stderr, "convc build: -target onnx needs -weights W.safetensors, the weights to export (from the trainer's train, or convc weights)")
			return 2
		}
		var p string
		m, p, err = convc.BuildONNX(files[0], *weights, *out)
		if err == nil {
			if !*quiet {
				fmt.Fprintf(stdout, "convc: wrote model %s with the weights of %s into %s\n", m.Name, *weights, p)
			}
			return 0
		}
	default:
		fmt.Fprintf(stderr, "convc build: unknown -target %q; want go, pytorch or onnx\n", *target)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if !*quiet && len(written) > 0 {
		dir := filepath.Dir(written[0])
		for _, w := range written {
			for !strings.HasPrefix(w, dir+string(filepath.Separator)) && dir != "." && dir != string(filepath.Separator) {
				dir = filepath.Dir(dir)
			}
		}
		fmt.Fprintf(stdout, "convc: wrote %d files of model %s into %s\n", len(written), m.Name, dir)
		if *target == "go" {
			pkg := filepath.ToSlash(filepath.Join(dir, "cmd", m.Name))
			if !filepath.IsAbs(dir) {
				pkg = "./" + pkg
			}
			fmt.Fprintf(stdout, "convc: build its trainer with: go build -o bin/ %s\n", pkg)
		} else {
			fmt.Fprintf(stdout, "convc: train with: python3 %s\n", filepath.ToSlash(filepath.Join(dir, "train.py")))
		}
	}
	return 0
}
