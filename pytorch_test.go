//go:build unix

package convc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/convc/convc/internal/buildmode"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/convc/convc/generated/mnist"
	"github.com/convc/convc/runtime"
)

// TestPyTorchDistributedMNIST generates the PyTorch target of
// specs/mnist.cnn, trains it for one epoch on 6,000 images with two
// processes under torchrun (DistributedDataParallel over gloo), and loads
// the weights into the generated Go package: the loss must fall, and Go's
// test accuracy must equal PyTorch's to the third decimal.
func TestPyTorchDistributedMNIST(t *testing.T) {
	buildmode.SkipInSIMDPass(t)
	if testing.Short() {
		t.Skip("trains with torchrun; skipped with -short")
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("%s cannot import torch and numpy (apt-get install python3-torch): %v", python, err)
	}
	data, err := runtime.MNISTDir()
	if err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	if _, _, err := BuildPyTorch("specs/mnist.cnn", dir); err != nil {
		t.Fatal(err)
	}
	weights := filepath.Join(dir, "mnist.safetensors")
	// torchrun is python3 -m torch.distributed.run. The explicit
	// --redirects and --tee work around Debian's torch 1.13 on Python 3.11,
	// whose default "0" parses to None (enum.IntFlag no longer iterates
	// over NONE); logs go to the test's folder.
	args := []string{"-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
		"--redirects", "2", "--tee", "2", "--log_dir", filepath.Join(dir, "logs"),
		filepath.Join(dir, "train.py"), "--data", data, "--epochs", "1", "--limit", "6000", "--out", weights, "--json"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, args...)
	// torchrun's workers are in its process group; a timeout kills them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("torchrun %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res struct {
		TestLoss       float64 `json:"test_loss"`
		TestAccuracy   float64 `json:"test_accuracy"`
		FirstBatchLoss float64 `json:"first_batch_loss"`
		Loss           float64 `json:"loss"`
		WorldSize      int     `json:"world_size"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("no JSON line at the end of train.py's output: %v\n%s", err, out.String())
	}
	t.Logf("torchrun, 2 processes: first batch loss %.4f, epoch loss %.4f, test accuracy %.4f", res.FirstBatchLoss, res.Loss, res.TestAccuracy)
	if res.WorldSize != 2 {
		t.Errorf("train.py ran with world size %d, want 2", res.WorldSize)
	}
	if !(res.Loss < 0.5*res.FirstBatchLoss) || !(res.TestAccuracy > 0.8) {
		t.Errorf("training did not converge: first batch loss %.4f, epoch loss %.4f, test accuracy %.4f\n%s", res.FirstBatchLoss, res.Loss, res.TestAccuracy, out.String())
	}

	net := mnist.New()
	if err := runtime.LoadWeights(net, weights); err != nil {
		t.Fatal(err)
	}
	_, test, err := runtime.LoadMNIST(data)
	if err != nil {
		t.Fatal(err)
	}
	src, err := runtime.NewIDXSource(net.Spec(), test, data)
	if err != nil {
		t.Fatal(err)
	}
	loss, acc, err := runtime.Evaluate(net, src, 2, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Go evaluate on PyTorch's weights: loss %.6f (PyTorch %.6f), accuracy %.4f (PyTorch %.4f)", loss, res.TestLoss, acc, res.TestAccuracy)
	if got, want := fmt.Sprintf("%.3f", acc), fmt.Sprintf("%.3f", res.TestAccuracy); got != want {
		t.Errorf("Go's test accuracy is %s, PyTorch's %s", got, want)
	}
	if math.Abs(loss-res.TestLoss) > 1e-4 {
		t.Errorf("Go's test loss is %.6f, PyTorch's %.6f", loss, res.TestLoss)
	}
}
