package runtime

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestModelCheckpointBestOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "best.safetensors")
	net := trainerNet(0.01)
	var out bytes.Buffer
	cbs, err := NewCallbacks(net, []Callback{{Kind: "ModelCheckpoint", Path: path, Monitor: "val_loss", SaveBestOnly: true}}, true, &out)
	if err != nil {
		t.Fatal(err)
	}
	// The first parameter holds the epoch, so the file tells which epoch
	// was saved.
	losses := []float64{0.9, 0.7, 0.8, 0.7, 0.5, 0.6}
	saved := []int{1, 2, 2, 2, 5, 5}
	for i, l := range losses {
		net.Params()[0][0] = float32(i + 1)
		if stop, err := cbs.EpochEnd(i+1, map[string]float64{"val_loss": l}); stop || err != nil {
			t.Fatalf("epoch %d: stop %v, err %v", i+1, stop, err)
		}
		ts, _, err := ReadSafetensors(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := int(ts[0].Data[0]); got != saved[i] {
			t.Errorf("after epoch %d the checkpoint holds epoch %d, want %d", i+1, got, saved[i])
		}
	}
	if p, epoch, metric, v, ok := cbs.Best(); !ok || p != path || epoch != 5 || metric != "val_loss" || v != 0.5 {
		t.Errorf("Best() = %s %d %s %g %v", p, epoch, metric, v, ok)
	}
	// Written atomically: nothing but the checkpoint is left in the folder.
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("folder holds %d files", len(ents))
	}
	if !strings.Contains(out.String(), "Epoch 3: val_loss did not improve from 0.70000") || !strings.Contains(out.String(), "Epoch 5: val_loss improved from 0.70000 to 0.50000, saving model to "+path) {
		t.Errorf("messages:\n%s", out.String())
	}

	// val_accuracy improves upwards; without save_best_only every epoch
	// is saved.
	cbs, _ = NewCallbacks(net, []Callback{{Kind: "ModelCheckpoint", Path: path, Monitor: "val_accuracy", SaveBestOnly: true}}, true, nil)
	for i, a := range []float64{0.5, 0.7, 0.6} {
		net.Params()[0][0] = float32(i + 1)
		cbs.EpochEnd(i+1, map[string]float64{"val_accuracy": a})
	}
	if _, epoch, _, _, _ := cbs.Best(); epoch != 2 {
		t.Errorf("val_accuracy: best epoch %d, want 2", epoch)
	}
	cbs, _ = NewCallbacks(net, []Callback{{Kind: "ModelCheckpoint", Path: path, Monitor: "loss"}}, false, nil)
	for i, l := range []float64{0.5, 0.7} {
		net.Params()[0][0] = float32(i + 1)
		cbs.EpochEnd(i+1, map[string]float64{"loss": l})
	}
	if ts, _, _ := ReadSafetensors(path); ts[0].Data[0] != 2 {
		t.Errorf("without save_best_only the last epoch should be saved, got epoch %v", ts[0].Data[0])
	}
	if _, _, _, _, ok := cbs.Best(); ok {
		t.Error("Best() reports a checkpoint that is not save_best_only")
	}
}

func TestEarlyStopping(t *testing.T) {
	cases := []struct {
		monitor  string
		patience int
		values   []float64
		stopAt   int // 0: never
	}{
		{"val_loss", 2, []float64{1, 0.9, 0.95, 0.92, 0.8}, 4},
		{"val_loss", 2, []float64{1, 0.9, 0.95, 0.8, 0.85, 0.9}, 6},
		{"val_loss", 0, []float64{1, 0.9, 0.95}, 3},
		{"val_loss", 1, []float64{1, 0.9, 0.9}, 3}, // a tie is no improvement
		{"val_accuracy", 1, []float64{0.5, 0.6, 0.7, 0.65}, 4},
		{"loss", 3, []float64{1, 0.9, 0.8, 0.7}, 0},
	}
	for _, c := range cases {
		cbs, err := NewCallbacks(trainerNet(0.01), []Callback{{Kind: "EarlyStopping", Monitor: c.monitor, Patience: c.patience}}, true, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for i, v := range c.values {
			stop, err := cbs.EpochEnd(i+1, map[string]float64{c.monitor: v})
			if err != nil {
				t.Fatal(err)
			}
			if stop {
				got = i + 1
				break
			}
		}
		if got != c.stopAt {
			t.Errorf("%s patience %d on %v: stopped after epoch %d, want %d", c.monitor, c.patience, c.values, got, c.stopAt)
		}
	}
}

func TestCallbacksBadConfig(t *testing.T) {
	net := trainerNet(0.01)
	for _, c := range []struct {
		cb         Callback
		validation bool
		want       string
	}{
		{Callback{Kind: "EarlyStopping", Monitor: "val_loss"}, false, "EarlyStopping monitors val_loss, but there is no validation data"},
		{Callback{Kind: "EarlyStopping", Monitor: "val_acc"}, true, `EarlyStopping monitors "val_acc"; training reports loss, accuracy, val_loss and val_accuracy`},
		{Callback{Kind: "ModelCheckpoint", Monitor: "loss", Path: filepath.Join(t.TempDir(), "no", "w.safetensors")}, true, "does not exist"},
	} {
		if _, err := NewCallbacks(net, []Callback{c.cb}, c.validation, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.cb, err, c.want)
		}
	}
}

// TestTrainerEarlyStopping runs the trainer with EarlyStopping on the
// training loss and a patience of 0 with a learning rate so large that the
// loss soon stops improving.
func TestTrainerEarlyStopping(t *testing.T) {
	dir := t.TempDir()
	writeIDX(t, dir, "train", 40, func(i int) byte { return byte(i % 3) })
	writeIDX(t, dir, "t10k", 12, func(i int) byte { return byte(i % 3) })
	net := trainerNet(0.5)
	net.Spec().Callbacks = []Callback{{Kind: "EarlyStopping", Monitor: "loss", Patience: 0}}
	code, stdout, stderr := runMain(net, "train", "-data", dir, "-out", filepath.Join(dir, "w.safetensors"), "-epochs", "30")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "early stopping") || strings.Contains(stdout, "Epoch 30/30") {
		t.Errorf("no early stop:\n%s", stdout)
	}
}
