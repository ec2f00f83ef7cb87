package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/convc/convc/internal/convert"
	"github.com/convc/convc/runtime"
)

func init() {
	register(&command{
		Name:  "weights",
		Usage: "[-top] [-o OUT] [-v] FILE",
		Short: "convert published VGG16 weights into convc's names and layouts",
		Long: `Weights reads the ImageNet weights of VGG16 as PyTorch publishes them, a
safetensors file of torchvision's vgg16 state dict (features.0.weight ...
features.28.bias, OIHW) or of timm's vgg16.tv_in1k, and writes them in
convc's names and layouts (block1_conv1/kernel ... in HWIO). It maps the
tensors by architecture, checks every name and shape, and reports what it
used and what it left. F32, F16, BF16 and F64 tensors are read.

By default it writes the file that VGG16(weights="imagenet") loads:
$CONVC_WEIGHTS/vgg16_imagenet_notop.safetensors, or with -top
vgg16_imagenet.safetensors ($CONVC_WEIGHTS defaults to ~/.convc/weights).

These weights expect PreprocessInput(mode="torch") before VGG16; the
trainer refuses them after another preprocessing. Keras's own .h5 files are
HDF5, which convc does not read.`,
		Run: runWeights,
	})
}

func runWeights(args []string) int {
	c := lookup("weights")
	fs := newFlagSet(c)
	top := fs.Bool("top", false, "also convert the classifier (fc1, fc2, predictions) for VGG16(include_top=True)")
	out := fs.String("o", "", "write here (default: the file VGG16(weights=\"imagenet\") loads)")
	verbose := fs.Bool("v", false, "list every tensor mapped")
	files, code := parseInterspersed(fs, args)
	if code >= 0 {
		return code
	}
	if len(files) != 1 {
		fmt.Fprintf(stderr, "convc weights: want one FILE\n")
		fs.Usage()
		return 2
	}
	if err := convertWeights(files[0], *out, *top, *verbose); err != nil {
		fmt.Fprintf(stderr, "convc weights: %v\n", err)
		return 1
	}
	return 0
}

func convertWeights(in, out string, top, verbose bool) error {
	head := make([]byte, 8)
	if f, err := os.Open(in); err == nil {
		f.Read(head)
		f.Close()
	}
	if bytes.Equal(head, []byte("\x89HDF\r\n\x1a\n")) {
		return fmt.Errorf("%s is an HDF5 file (Keras's .h5), which convc does not read; convert torchvision's or timm's VGG16 weights, published as safetensors (see the README, section 8.3)", in)
	}
	src, _, err := runtime.ReadSafetensorsWidened(in)
	if err != nil {
		return err
	}
	ts, r, err := convert.VGG16(src, top)
	if err != nil {
		return fmt.Errorf("%s: %v", in, err)
	}
	arch := "vgg16"
	if top {
		arch = "vgg16_top"
	}
	if out == "" {
		dir, err := runtime.WeightsDir()
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		out = filepath.Join(dir, runtime.ImageNetFile(arch))
	}
	meta := map[string]string{"format": "convc", "arch": arch, "preprocess": "torch", "source": filepath.Base(in)}
	if err := runtime.WriteSafetensors(out, ts, meta); err != nil {
		return err
	}
	if verbose {
		for _, m := range r.Mapped {
			fmt.Fprintln(stdout, m)
		}
	}
	n := 0
	for _, t := range ts {
		n += len(t.Data)
	}
	fmt.Fprintf(stdout, "wrote %s: %d tensors, %d parameters of %s from %s; they expect PreprocessInput(mode=\"torch\")\n", out, len(ts), n, arch, in)
	if len(r.Left) > 0 {
		fmt.Fprintf(stdout, "left %d tensors of %s unused: %v\n", len(r.Left), in, r.Left)
	}
	return nil
}
