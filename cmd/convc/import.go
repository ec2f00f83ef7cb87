package main

import (
	"fmt"
	"path/filepath"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/internal/onnx"
)

func init() {
	register(&command{
		Name:  "import",
		Usage: "[-o DIR] [-name NAME] MODEL.onnx",
		Short: "translate an ONNX model into a spec and its weights",
		Long: `Import reads an ONNX model (from torch.onnx.export, tf2onnx or convc
build -target onnx) and writes DIR/NAME.cnn, a spec of the same network
in convc's layers, and DIR/NAME.safetensors, its weights in convc's names
and layouts. The spec's input is HWC (height x width x channels) even when
the ONNX graph took NCHW.

It imports a chain of Conv, MaxPool, AveragePool, GlobalAveragePool,
GlobalMaxPool (and ReduceMean or ReduceMax over height and width),
Relu, Sigmoid, Tanh, Softmax, Flatten, Reshape, Squeeze, Gemm, MatMul,
Dropout, zero Pad, the Transposes between NCHW and NHWC, constant
arithmetic (as Rescaling or folded into weights) and inference
BatchNormalization after a Conv or Gemm (folded into its weights), and
refuses anything else, listing every node it cannot import with what
would be needed.

NAME defaults to the graph's name, or the file's when the exporter named
the graph generically, made into a valid model name.`,
		Run: runImport,
	})
}

func runImport(args []string) int {
	c := lookup("import")
	fs := newFlagSet(c)
	dir := fs.String("o", ".", "write the spec and weights into this folder")
	name := fs.String("name", "", "the model's name (default: from the graph or the file)")
	files, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "convc import: want one ONNX file\n")
		fs.Usage()
		return 2
	}
	im, err := onnx.ImportFile(files[0])
	if err == nil && *name != "" {
		err = im.Rename(*name)
	}
	var spec, weights string
	if err == nil {
		spec, weights, err = im.Write(*dir)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "convc: wrote %s and %s\n", dsl.Printable(spec), dsl.Printable(weights))
	fmt.Fprintf(stdout, "convc: build it with: convc build -embed %s %s\n", dsl.Printable(filepath.ToSlash(weights)), dsl.Printable(filepath.ToSlash(spec)))
	return 0
}
