package runtime

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func readWeights(t *testing.T, path string) []NamedTensor {
	t.Helper()
	ts, _, err := ReadSafetensors(path)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func sameBits(a, b []NamedTensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || len(a[i].Data) != len(b[i].Data) {
			return false
		}
		for j := range a[i].Data {
			if math.Float32bits(a[i].Data[j]) != math.Float32bits(b[i].Data[j]) {
				return false
			}
		}
	}
	return true
}

func trainData(t *testing.T) string {
	dir := t.TempDir()
	writeIDX(t, dir, "train", 30, func(i int) byte { return byte(i % 3) })
	writeIDX(t, dir, "t10k", 6, func(i int) byte { return byte(i % 3) })
	return dir
}

// TestResumeIsExact trains 4 epochs in one go, and 2 epochs then 2 more
// from the checkpoint, and checks that the weights are bit-identical.
func TestResumeIsExact(t *testing.T) {
	dir := trainData(t)
	for _, opt := range []string{"rmsprop", "adam", "sgd"} {
		t.Run(opt, func(t *testing.T) {
			newNet := func() *Reference {
				n := trainerNet(0.01)
				n.spec.Optimizer = Optimizer{Name: opt, LearningRate: 0.01, Rho: 0.9, Epsilon: 1e-7, Beta1: 0.9, Beta2: 0.999, Momentum: 0.5}
				return n
			}
			a := filepath.Join(dir, opt+"-a.safetensors")
			if code, _, e := runMain(newNet(), "train", "-data", dir, "-out", a, "-epochs", "4", "-seed", "3"); code != 0 {
				t.Fatal(e)
			}
			b := filepath.Join(dir, opt+"-b.safetensors")
			ckpt := filepath.Join(dir, opt+"-b.ckpt")
			if code, _, e := runMain(newNet(), "train", "-data", dir, "-out", b, "-epochs", "2", "-seed", "3"); code != 0 {
				t.Fatal(e)
			}
			if sameBits(readWeights(t, a), readWeights(t, b)) {
				t.Fatal("2 and 4 epochs gave the same weights; the test cannot tell resumed runs apart")
			}
			code, out, e := runMain(newNet(), "train", "-data", dir, "-out", b, "-epochs", "4", "-resume", ckpt)
			if code != 0 {
				t.Fatal(e)
			}
			if !strings.Contains(out, "Resuming") || !strings.Contains(out, "Epoch 3/4") || strings.Contains(out, "Epoch 1/4") {
				t.Errorf("resumed output:\n%s", out)
			}
			if !sameBits(readWeights(t, a), readWeights(t, b)) {
				t.Errorf("%s: resuming after epoch 2 does not give the weights of an uninterrupted run", opt)
			}
			st, _, err := LoadCheckpoint(ckpt, newNet())
			if err != nil {
				t.Fatal(err)
			}
			if st.Epoch != 4 || len(st.History.Rows) != 4 {
				t.Errorf("checkpoint after the resumed run: epoch %d, %d history rows; want 4 and 4", st.Epoch, len(st.History.Rows))
			}
		})
	}
}

func TestResumeRefuses(t *testing.T) {
	dir := trainData(t)
	out := filepath.Join(dir, "w.safetensors")
	ckpt := filepath.Join(dir, "w.ckpt")
	if code, _, e := runMain(trainerNet(0.01), "train", "-data", dir, "-out", out, "-epochs", "1"); code != 0 {
		t.Fatal(e)
	}
	other := trainerNet(0.01)
	other.spec.Name, other.spec.File, other.spec.Hash = "other", "other.cnn", "def"
	adam := trainerNet(0.01)
	adam.spec.Optimizer.Name = "adam"
	for _, tc := range []struct {
		name string
		net  Net
		args []string
		want string
	}{
		{"batch size", trainerNet(0.01), []string{"-batch-size", "2"}, "was trained with -batch-size 4, and this run asks for 2"},
		{"another spec", other, nil, `is a checkpoint of spec "tiny" (tiny.cnn, sha256 abc)`},
		{"optimizer", adam, nil, "was trained with rmsprop(learning_rate=0.01"},
		{"weights file", trainerNet(0.01), nil, "not a convc checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ckpt
			if tc.name == "weights file" {
				c = out
			}
			args := append([]string{"train", "-data", dir, "-out", filepath.Join(dir, "x.safetensors"), "-epochs", "3", "-resume", c}, tc.args...)
			code, _, e := runMain(tc.net, args...)
			if code != 1 || !strings.Contains(e, tc.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant %q", code, e, tc.want)
			}
		})
	}
}

// TestCheckpointSurvivesSIGKILL kills a trainer that writes a checkpoint
// after every epoch at random moments, and checks that the checkpoint on
// disk always reads back whole.
func TestCheckpointSurvivesSIGKILL(t *testing.T) {
	if os.Getenv("CONVC_CHILD") == "train" {
		dir := os.Getenv("CONVC_DIR")
		code, _, e := runMain(trainerNet(0.001), "train", "-data", dir, "-out", filepath.Join(dir, "w.safetensors"), "-epochs", "100000", "-batch-size", "30")
		os.Stderr.WriteString(e)
		os.Exit(code)
	}
	if testing.Short() {
		t.Skip("runs child processes")
	}
	dir := trainData(t)
	ckpt := filepath.Join(dir, "w.ckpt")
	for i := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointSurvivesSIGKILL$")
		cmd.Env = append(os.Environ(), "CONVC_CHILD=train", "CONVC_DIR="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(150+37*i) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if _, err := os.Stat(ckpt); err != nil {
			continue // killed before the first epoch ended
		}
		if _, _, err := LoadCheckpoint(ckpt, trainerNet(0.001)); err != nil {
			t.Fatalf("after SIGKILL %d: %v", i, err)
		}
		if tmp, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(tmp) > 100 {
			t.Errorf("temporary files pile up: %d", len(tmp))
		}
	}
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatal("no checkpoint was ever written")
	}
}

// TestCheckpointDiskFull saves a checkpoint over an existing one in a
// process whose files may not grow past a few kilobytes, as on a full
// disk, and checks that the old checkpoint survives.
func TestCheckpointDiskFull(t *testing.T) {
	if os.Getenv("CONVC_CHILD") == "diskfull" {
		signal.Ignore(syscall.SIGXFSZ)
		lim := syscall.Rlimit{Cur: 4096, Max: 4096}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			os.Exit(3)
		}
		big := NewReference(buildSpec([]int{16, 16, 1}, tFlatten(), tDense(40, "softmax")))
		opt, _ := NewOptimizer(Optimizer{Name: "rmsprop", LearningRate: 0.001, Rho: 0.9, Epsilon: 1e-7}, big.spec)
		err := SaveCheckpoint(os.Getenv("CONVC_PATH"), big, opt, RunState{Epoch: 9})
		if err == nil {
			os.Exit(4)
		}
		os.Stderr.WriteString(err.Error())
		os.Exit(0)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "w.ckpt")
	small := trainerNet(0.01)
	opt, _ := NewOptimizer(small.spec.Optimizer, small.spec)
	if err := SaveCheckpoint(path, small, opt, RunState{Epoch: 1, BatchSize: 4}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if len(before) > 4096 {
		t.Fatalf("the small checkpoint is %d bytes, more than the limit", len(before))
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointDiskFull$")
	cmd.Env = append(os.Environ(), "CONVC_CHILD=diskfull", "CONVC_PATH="+path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Errorf("the old checkpoint was damaged by a failed save")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(left) != 1 {
		t.Errorf("files left behind: %v", left)
	}
	if !strings.Contains(string(out), "w.ckpt") {
		t.Errorf("the error does not name the file: %s", out)
	}
}

// TestResumeKeepsCallbacks resumes a run with a save_best_only
// ModelCheckpoint and an EarlyStopping: the resumed epochs print what an
// uninterrupted run prints (no "improved from inf"), the best checkpoint
// ends with the same bits, and the run stops at the same epoch.
func TestResumeKeepsCallbacks(t *testing.T) {
	dir := trainData(t)
	newNet := func(best string) *Reference {
		n := trainerNet(0.05)
		n.spec.Callbacks = []Callback{
			{Kind: "ModelCheckpoint", Path: best, Monitor: "loss", SaveBestOnly: true},
			{Kind: "EarlyStopping", Monitor: "loss", Patience: 2},
		}
		return n
	}
	bestA, bestB := filepath.Join(dir, "best-a.safetensors"), filepath.Join(dir, "best-b.safetensors")
	code, outA, e := runMain(newNet(bestA), "train", "-data", dir, "-out", filepath.Join(dir, "a.safetensors"), "-epochs", "6", "-seed", "4")
	if code != 0 {
		t.Fatal(e)
	}
	if code, _, e := runMain(newNet(bestB), "train", "-data", dir, "-out", filepath.Join(dir, "b.safetensors"), "-epochs", "2", "-seed", "4"); code != 0 {
		t.Fatal(e)
	}
	code, outB, e := runMain(newNet(bestB), "train", "-data", dir, "-out", filepath.Join(dir, "b.safetensors"), "-epochs", "6", "-resume", filepath.Join(dir, "b.ckpt"))
	if code != 0 {
		t.Fatal(e)
	}
	if strings.Contains(outB, "from inf") {
		t.Errorf("the resumed run forgot the best value:\n%s", outB)
	}
	callbackLines := func(out string, from int) []string {
		var ls []string
		for _, l := range strings.Split(out, "\n") {
			var ep int
			if _, err := fmt.Sscanf(l, "Epoch %d:", &ep); err == nil && ep >= from {
				ls = append(ls, strings.ReplaceAll(l, "best-a", "best-b"))
			}
		}
		return ls
	}
	if a, b := callbackLines(outA, 3), callbackLines(outB, 3); strings.Join(a, "\n") != strings.Join(b, "\n") || len(a) == 0 {
		t.Errorf("epochs 3 on, uninterrupted:\n%s\nresumed:\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
	if !sameBits(readWeights(t, bestA), readWeights(t, bestB)) {
		t.Error("the best checkpoints of the uninterrupted and the resumed run differ")
	}
}

// TestCheckpointMetadataChecked resumes from checkpoints whose metadata
// was tampered with: each is refused with a message, none panics or runs
// forever.
func TestCheckpointMetadataChecked(t *testing.T) {
	dir := trainData(t)
	out := filepath.Join(dir, "w.safetensors")
	ckpt := filepath.Join(dir, "w.ckpt")
	if code, _, e := runMain(trainerNet(0.01), "train", "-data", dir, "-out", out, "-epochs", "1"); code != 0 {
		t.Fatal(e)
	}
	ts, meta, err := ReadSafetensors(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ key, value, want string }{
		{"epoch", "9223372036854775807", "outside [0, 1000000]"},
		{"epoch", "-3", "outside [0, 1000000]"},
		{"batch_size", "0", "batch_size=0 is not positive"},
		{"validation_split", "NaN", "not in [0, 1)"},
		{"history", `{"metrics":["epoch","loss"],"rows":[["1"]]}`, "history row 1 has 1 values for 2 metrics"},
		{"history", `{"metrics":["epoch"],"rows":[["x"]]}`, `holds "x", not a number`},
		{"callbacks", `{"checkpoints":[{"best":"1"}],"stoppers":[]}`, "callbacks' state has 1 ModelCheckpoint"},
	} {
		m := maps.Clone(meta)
		m[tc.key] = tc.value
		bad := filepath.Join(dir, "bad.ckpt")
		if err := WriteSafetensors(bad, ts, m); err != nil {
			t.Fatal(err)
		}
		code, _, e := runMain(trainerNet(0.01), "train", "-data", dir, "-out", filepath.Join(dir, "x.safetensors"), "-epochs", "3", "-resume", bad)
		if code != 1 || !strings.Contains(e, tc.want) {
			t.Errorf("%s=%s: exit %d, stderr %q; want %q", tc.key, tc.value, code, e, tc.want)
		}
	}
	// -checkpoint may not name -out.
	code, _, e := runMain(trainerNet(0.01), "train", "-data", dir, "-out", out, "-checkpoint", out)
	if code != 1 || !strings.Contains(e, "-checkpoint and -out are both") {
		t.Errorf("-checkpoint = -out: exit %d, %s", code, e)
	}
}

// TestStaleTempsRemoved leaves the temporary files of a killed run next to
// the files a trainer writes; the next run removes them and says so, and
// leaves other files alone.
func TestStaleTempsRemoved(t *testing.T) {
	dir := trainData(t)
	stale := []string{filepath.Join(dir, ".w.ckpt.tmp-123"), filepath.Join(dir, ".w.safetensors.tmp-9")}
	keep := filepath.Join(dir, ".other.tmp-1")
	for _, p := range append(stale, keep) {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, _, e := runMain(trainerNet(0.01), "train", "-data", dir, "-out", filepath.Join(dir, "w.safetensors"), "-epochs", "1")
	if code != 0 {
		t.Fatal(e)
	}
	for _, p := range stale {
		if _, err := os.Stat(p); err == nil || !strings.Contains(e, "removed "+p) {
			t.Errorf("%s: still there, or not reported in %q", p, e)
		}
	}
	if _, err := os.Stat(keep); err != nil {
		t.Errorf("%s was removed", keep)
	}
}
