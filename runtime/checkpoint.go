package runtime

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// RunState is what a checkpoint records besides the tensors: where the run
// is, and the settings that must not change when it resumes.
type RunState struct {
	// Epoch is the number of epochs done.
	Epoch     int
	Seed      int64
	BatchSize int
	Shuffle   bool
	// Limit and ValidationSplit select the training samples.
	Limit           int
	ValidationSplit float64
	History         *History
	// Callbacks is the callbacks' state (Callbacks.State), "" when there
	// is none.
	Callbacks string
}

// optimizerKey describes the optimizer and its hyperparameters, so that a
// resumed run can refuse another one.
func optimizerKey(o Optimizer) string {
	return fmt.Sprintf("%s(learning_rate=%g, rho=%g, momentum=%g, epsilon=%g, beta_1=%g, beta_2=%g)",
		o.Name, o.LearningRate, o.Rho, o.Momentum, o.Epsilon, o.Beta1, o.Beta2)
}

// maxEpochs bounds the epochs of a run, and the epoch a checkpoint may
// claim to be at.
const maxEpochs = 1_000_000

// SaveCheckpoint writes a checkpoint that a run can resume from exactly:
// the weights, the optimizer state, and in the metadata the epoch, the
// seed (which with the epoch fixes every random draw still to come), the
// batch size, the optimizer, the history and the spec's hash. The write is
// atomic: a crash at any moment leaves the previous file or the new one.
func SaveCheckpoint(path string, net Net, opt Opt, st RunState) error {
	spec := net.Spec()
	params := net.Params()
	var ts []NamedTensor
	for i, p := range spec.Params {
		ts = append(ts, NamedTensor{Name: p.Name, Shape: p.Shape, Data: params[i]})
	}
	ts = append(ts, opt.State()...)
	hist := st.History
	if hist == nil {
		hist = &History{}
	}
	rows := make([][]string, len(hist.Rows))
	for i, r := range hist.Rows {
		for _, v := range r {
			rows[i] = append(rows[i], strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	hj, err := json.Marshal(struct {
		Metrics []string   `json:"metrics"`
		Rows    [][]string `json:"rows"`
	}{hist.Metrics, rows})
	if err != nil {
		return err
	}
	return WriteSafetensors(path, ts, map[string]string{
		"format":           "convc-checkpoint",
		"spec":             spec.Name,
		"spec_file":        spec.File,
		"spec_hash":        spec.Hash,
		"epoch":            strconv.Itoa(st.Epoch),
		"seed":             strconv.FormatInt(st.Seed, 10),
		"batch_size":       strconv.Itoa(st.BatchSize),
		"shuffle":          strconv.FormatBool(st.Shuffle),
		"limit":            strconv.Itoa(st.Limit),
		"validation_split": strconv.FormatFloat(st.ValidationSplit, 'g', -1, 64),
		"optimizer":        optimizerKey(spec.Optimizer),
		"history":          string(hj),
		"callbacks":        st.Callbacks,
	})
}

// LoadCheckpoint reads a checkpoint written by SaveCheckpoint for net: it
// sets the network's weights and returns the run state and the optimizer
// state to restore. It refuses a checkpoint of another spec or another
// optimizer, naming what differs; on error the weights are unchanged.
func LoadCheckpoint(path string, net Net) (RunState, []NamedTensor, error) {
	spec := net.Spec()
	var st RunState
	ts, meta, err := ReadSafetensors(path)
	if err != nil {
		return st, nil, err
	}
	if err := CheckFinite(path, ts); err != nil {
		return st, nil, err
	}
	if meta["format"] != "convc-checkpoint" {
		return st, nil, fmt.Errorf("%s is not a convc checkpoint (no format=convc-checkpoint in its metadata); to start from its weights use -init instead of -resume", path)
	}
	if meta["spec_hash"] != spec.Hash {
		return st, nil, fmt.Errorf("%s is a checkpoint of spec %q (%s, sha256 %.12s), not of this trainer's %q (%s, sha256 %.12s); resume it with that spec's trainer, or use -init to start from its weights",
			path, meta["spec"], meta["spec_file"], meta["spec_hash"], spec.Name, spec.File, spec.Hash)
	}
	if got, want := meta["optimizer"], optimizerKey(spec.Optimizer); got != want {
		return st, nil, fmt.Errorf("%s was trained with %s, and this trainer uses %s; the saved optimizer state would not apply", path, got, want)
	}
	atoi := func(k string) int {
		v, e := strconv.Atoi(meta[k])
		if e != nil && err == nil {
			err = fmt.Errorf("%s: metadata %s=%q is not an integer", path, k, meta[k])
		}
		return v
	}
	st.Epoch = atoi("epoch")
	st.BatchSize = atoi("batch_size")
	st.Limit = atoi("limit")
	st.Seed, _ = strconv.ParseInt(meta["seed"], 10, 64)
	st.Shuffle = meta["shuffle"] == "true"
	st.ValidationSplit, _ = strconv.ParseFloat(meta["validation_split"], 64)
	st.Callbacks = meta["callbacks"]
	// Everything read from the file is checked: a crafted checkpoint must
	// not make the trainer panic or run forever.
	switch {
	case err != nil:
	case st.Epoch < 0 || st.Epoch > maxEpochs:
		err = fmt.Errorf("%s: metadata epoch=%d is outside [0, %d]; the checkpoint is corrupt", path, st.Epoch, maxEpochs)
	case st.BatchSize < 1:
		err = fmt.Errorf("%s: metadata batch_size=%d is not positive; the checkpoint is corrupt", path, st.BatchSize)
	case st.Limit < 0:
		err = fmt.Errorf("%s: metadata limit=%d is negative; the checkpoint is corrupt", path, st.Limit)
	case !(st.ValidationSplit >= 0 && st.ValidationSplit < 1):
		err = fmt.Errorf("%s: metadata validation_split=%q is not in [0, 1); the checkpoint is corrupt", path, meta["validation_split"])
	}
	var hj struct {
		Metrics []string   `json:"metrics"`
		Rows    [][]string `json:"rows"`
	}
	if e := json.Unmarshal([]byte(meta["history"]), &hj); e != nil && err == nil {
		err = fmt.Errorf("%s: the history in its metadata is corrupt: %v", path, e)
	}
	if err != nil {
		return st, nil, err
	}
	st.History = &History{Metrics: hj.Metrics}
	if len(hj.Rows) > st.Epoch {
		return st, nil, fmt.Errorf("%s: the history has %d rows for %d epochs; the checkpoint is corrupt", path, len(hj.Rows), st.Epoch)
	}
	for n, r := range hj.Rows {
		if len(r) != len(hj.Metrics) {
			return st, nil, fmt.Errorf("%s: history row %d has %d values for %d metrics; the checkpoint is corrupt", path, n+1, len(r), len(hj.Metrics))
		}
		row := make([]float64, len(r))
		for i, v := range r {
			f, e := strconv.ParseFloat(v, 64)
			if e != nil {
				return st, nil, fmt.Errorf("%s: history row %d holds %q, not a number; the checkpoint is corrupt", path, n+1, v)
			}
			row[i] = f
		}
		st.History.Rows = append(st.History.Rows, row)
	}
	var weights, state []NamedTensor
	for _, t := range ts {
		if strings.HasPrefix(t.Name, "optimizer/") {
			state = append(state, t)
		} else {
			weights = append(weights, t)
		}
	}
	if err := setWeights(net, path, weights, true); err != nil {
		return st, nil, err
	}
	return st, state, nil
}
