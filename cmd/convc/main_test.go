package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/convc/convc/internal/buildmode"
)

// runCmd runs the command line in-process and returns the exit code and
// what went to stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	stdout, stderr = &out, &errOut
	defer func() { stdout, stderr = os.Stdout, os.Stderr }()
	code := run(args)
	return code, out.String(), errOut.String()
}

func TestCheckSpecs(t *testing.T) {
	specs, _ := filepath.Glob("../../specs/*.cnn")
	if len(specs) < 4 {
		t.Fatalf("specs: %v", specs)
	}
	code, out, errOut := runCmd(t, append([]string{"check"}, specs...)...)
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("check specs: %d %q %q", code, out, errOut)
	}
}

func TestCheckErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.cnn")
	os.WriteFile(bad, []byte("model m {\n    Input(shape=(28, 28, 1))\n    Dense(10)\n    Conv2d(3, 3)\n}\n"), 0o644)
	code, out, errOut := runCmd(t, "check", bad, filepath.Join(dir, "missing.cnn"))
	want := bad + ":3:5: Dense expects a vector, got (28, 28, 1); insert Flatten() before it\n" +
		bad + ":4:5: unknown layer Conv2d; did you mean Conv2D?\n" +
		filepath.Join(dir, "missing.cnn") + ": no such file or directory\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("check: %d %q\n%s\nwant:\n%s", code, out, errOut, want)
	}
}

func TestSummary(t *testing.T) {
	code, out, errOut := runCmd(t, "summary", "../../specs/mnist.cnn")
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "Model: \"mnist\"\n") || !strings.Contains(out, "Total params: 104202 (407.04 KB)\n") {
		t.Errorf("summary: %d %q\n%s", code, errOut, out)
	}
	code, out, _ = runCmd(t, "summary", "-v", "../../specs/mnist.cnn")
	if code != 0 || !strings.Contains(out, "Total MACs per sample: 3100032 (3.10 M)\n") {
		t.Errorf("summary -v: %d\n%s", code, out)
	}
	// Flags may also follow the file, as in "convc build FILE -embed W".
	code, out, _ = runCmd(t, "summary", "../../specs/mnist.cnn", "-v")
	if code != 0 || !strings.Contains(out, "Total MACs per sample: 3100032 (3.10 M)\n") {
		t.Errorf("summary FILE -v: %d\n%s", code, out)
	}
	if code, _, _ := runCmd(t, "summary"); code != 2 {
		t.Errorf("summary without a file: exit %d, want 2", code)
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help"}, 0, "commands:\n"},
		{[]string{}, 2, "usage: convc COMMAND"},
		{[]string{"help", "summary"}, 0, "usage: convc summary [-v] FILE"},
		{[]string{"summary", "-h"}, 0, "-v\tadd a column"},
		{[]string{"check", "-h"}, 0, "usage: convc check FILE..."},
		{[]string{"help", "nope"}, 2, `unknown command "nope"`},
		{[]string{"frobnicate"}, 2, "convc: unknown command \"frobnicate\""},
		{[]string{"summary", "-x", "f.cnn"}, 2, "flag provided but not defined: -x"},
	} {
		code, out, errOut := runCmd(t, tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("convc %v: exit %d, stdout %q, stderr:\n%s\nwant exit %d and %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
}

// TestBuildExplain checks convc build -explain and the -cache flag: the
// plans name the caches they were made for, and a bad -cache is refused
// with the flag's name before anything is written.
func TestBuildExplain(t *testing.T) {
	code, out, errOut := runCmd(t, "build", "-explain", "-cache", "48K,1M", "../../bench/specs/vgg16_base.cnn")
	if code != 0 {
		t.Fatalf("convc build -explain: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"planned for L1 48 KiB, L2 1024 KiB",
		"block1_conv1: Conv2D(64, 3",
		"input widened from 3 to 4 channels with zeros",
		"block4_conv2: Conv2D(512, 3",
		"tiled direct convolution, AVX-512 (Float32x16)",
		"8 channel blocks > 32 chunks of 16 input channels > 11 rows",
		"Winograd F(4x4, 3x3), AVX-512 (Float32x16), planned for L1 48 KiB and L2 1024 KiB",
		"live output 22x22 of (22, 22, 512): 6x6 tiles of 4x4 outputs",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("convc build -explain does not print %q:\n%s", want, out)
		}
	}
	code, _, errOut = runCmd(t, "build", "-cache", "lots", "../../bench/specs/vgg16_base.cnn")
	if code != 2 || !strings.Contains(errOut, `-cache "lots"`) {
		t.Errorf("convc build -cache lots: exit %d, stderr %q; want 2 and the flag named", code, errOut)
	}
}

// TestTrainHelp checks that convc train -h lists every flag of the
// trainer, wherever -h stands, without building anything, and that a bad
// flag before the spec is reported as a flag error.
func TestTrainHelp(t *testing.T) {
	for _, args := range [][]string{{"train", "-h"}, {"train", "../../specs/mnist.cnn", "-h"}, {"train", "-epochs", "1", "-h", "../../specs/mnist.cnn"}} {
		start := time.Now()
		code, _, errOut := runCmd(t, args...)
		if code != 0 {
			t.Errorf("%q: exit %d", args, code)
		}
		for _, f := range []string{"-validation-split", "-resume", "-checkpoint", "-init-strict", "-epochs", "-workers", "-feature-cache-mb"} {
			if !strings.Contains(errOut, "  "+f) {
				t.Errorf("%q: help lacks %s:\n%s", args, f, errOut)
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%q took %v: did it build the trainer?", args, d)
		}
	}
	code, _, errOut := runCmd(t, "train", "-epochs", "x", "../../specs/mnist.cnn")
	if code != 2 || !strings.Contains(errOut, `invalid value "x" for flag -epochs`) {
		t.Errorf("bad flag: exit %d, %s", code, errOut)
	}
}

// TestBuildSays checks that convc build says what it wrote and how to
// build the trainer, and that -q keeps it silent.
func TestBuildSays(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	code, out, errOut := runCmd(t, "build", "-target", "pytorch", "-o", dir, "../../specs/mnist.cnn")
	if code != 0 || !strings.Contains(out, "wrote 2 files of model mnist into "+dir) || !strings.Contains(out, "python3 "+filepath.Join(dir, "train.py")) {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, "build", "-q", "-target", "pytorch", "-o", dir, "../../specs/mnist.cnn")
	if code != 0 || out != "" {
		t.Errorf("-q: exit %d, stdout %q", code, out)
	}
}

// TestTrainFlagsBeforeSpec runs convc train as the user did, with
// the flags before the spec and after it: the trainer is built and trains
// one epoch on a few MNIST images.
func TestTrainFlagsBeforeSpec(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a trainer")
	}
	buildmode.SkipInSIMDPass(t)
	bin := filepath.Join(t.TempDir(), "convc")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	spec, _ := filepath.Abs("../../specs/mnist.cnn")
	cmd := exec.Command(bin, "train", "-epochs", "1", "-limit", "300", spec, "-out", filepath.Join(dir, "w.safetensors"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("convc train: %v\n%s", err, out)
	}
	// 300 images at the spec's batch size of 64 are 5 steps.
	for _, want := range []string{"Epoch 1/1", "5/5 [", "test accuracy: 0."} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
