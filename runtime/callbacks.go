package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Callbacks runs a spec's fit callbacks (ModelCheckpoint and
// EarlyStopping) at the end of each epoch, with Keras's semantics.
type Callbacks struct {
	net         Net
	out         io.Writer
	checkpoints []*checkpoint
	stoppers    []*earlyStopping
	// classes are the class names that the weights files record.
	classes []string
}

// monitor follows one metric the way Keras's callbacks do with
// mode="auto": a metric whose name contains "acc" improves when it grows,
// any other when it shrinks. Improvement is strict, so a tie is not one.
type monitor struct {
	name string
	max  bool
	best float64
}

func newMonitor(name string) monitor {
	m := monitor{name: name, max: strings.Contains(name, "acc")}
	m.best = math.Inf(1)
	if m.max {
		m.best = math.Inf(-1)
	}
	return m
}

func (m *monitor) improves(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if m.max {
		return v > m.best
	}
	return v < m.best
}

type checkpoint struct {
	Callback
	monitor
	// bestEpoch is the epoch (from 1) of the saved weights, 0 before any.
	bestEpoch int
}

type earlyStopping struct {
	Callback
	monitor
	wait int
}

// NewCallbacks returns the runner of the callbacks cbs for net. Messages
// such as "val_loss improved from 0.69 to 0.61, saving model to best.safetensors"
// go to out. It fails when a callback monitors a metric that training will
// not produce: val_* without validation data, or an unknown name.
func NewCallbacks(net Net, cbs []Callback, validation bool, out io.Writer) (*Callbacks, error) {
	if out == nil {
		out = io.Discard
	}
	r := &Callbacks{net: net, out: out}
	for _, cb := range cbs {
		mon := cb.Monitor
		if mon == "" {
			mon = "val_loss"
		}
		switch mon {
		case "loss", "accuracy":
		case "val_loss", "val_accuracy":
			if !validation {
				return nil, fmt.Errorf("%s monitors %s, but there is no validation data; add a validation/ folder or monitor loss", cb.Kind, mon)
			}
		default:
			return nil, fmt.Errorf("%s monitors %q; training reports loss, accuracy, val_loss and val_accuracy", cb.Kind, mon)
		}
		switch cb.Kind {
		case "ModelCheckpoint":
			if err := checkWritable(cb.Path); err != nil {
				return nil, fmt.Errorf("ModelCheckpoint: %v", err)
			}
			r.checkpoints = append(r.checkpoints, &checkpoint{Callback: cb, monitor: newMonitor(mon)})
		case "EarlyStopping":
			if cb.Patience < 0 {
				return nil, fmt.Errorf("EarlyStopping patience must be at least 0, got %d", cb.Patience)
			}
			r.stoppers = append(r.stoppers, &earlyStopping{Callback: cb, monitor: newMonitor(mon)})
		default:
			return nil, fmt.Errorf("unknown callback %s; this trainer knows ModelCheckpoint and EarlyStopping", cb.Kind)
		}
	}
	return r, nil
}

// EpochEnd runs every callback after an epoch (counted from 1) with its
// metrics. ModelCheckpoint writes the weights atomically with SaveWeights:
// every epoch, or with save_best_only only when the monitored metric
// improved on its best so far. EarlyStopping asks to stop once the metric
// has not improved for patience epochs in a row (Keras 3's rule, with
// min_delta=0: an epoch that improves never stops training). Its signature
// fits FitConfig.EpochEnd.
func (r *Callbacks) EpochEnd(epoch int, logs map[string]float64) (stop bool, err error) {
	for _, c := range r.checkpoints {
		v, ok := logs[c.name]
		if !ok {
			return false, fmt.Errorf("ModelCheckpoint: epoch %d has no %s", epoch, c.name)
		}
		if !c.SaveBestOnly {
			if err := SaveWeightsLabeled(r.net, c.Path, r.classes); err != nil {
				return false, fmt.Errorf("ModelCheckpoint: %v", err)
			}
			c.bestEpoch = epoch
			continue
		}
		if !c.improves(v) {
			fmt.Fprintf(r.out, "Epoch %d: %s did not improve from %s\n", epoch, c.name, pyFloat5(c.best))
			continue
		}
		fmt.Fprintf(r.out, "Epoch %d: %s improved from %s to %.5f, saving model to %s\n", epoch, c.name, pyFloat5(c.best), v, c.Path)
		if err := SaveWeightsLabeled(r.net, c.Path, r.classes); err != nil {
			return false, fmt.Errorf("ModelCheckpoint: %v", err)
		}
		c.best, c.bestEpoch = v, epoch
	}
	for _, s := range r.stoppers {
		v, ok := logs[s.name]
		if !ok {
			return false, fmt.Errorf("EarlyStopping: epoch %d has no %s", epoch, s.name)
		}
		if s.improves(v) {
			s.best, s.wait = v, 0
			continue
		}
		s.wait++
		if s.wait >= s.Patience && epoch > 1 {
			fmt.Fprintf(r.out, "Epoch %d: early stopping (%s has not improved for %d epochs; best %.5f)\n", epoch, s.name, s.wait, s.best)
			stop = true
		}
	}
	return stop, nil
}

// Best returns the file of the first save_best_only checkpoint that was
// written, with the epoch (from 1), metric and value it was saved at; ok
// is false when there is none.
func (r *Callbacks) Best() (path string, epoch int, metric string, value float64, ok bool) {
	for _, c := range r.checkpoints {
		if c.SaveBestOnly && c.bestEpoch > 0 {
			return c.Path, c.bestEpoch, c.name, c.best, true
		}
	}
	return "", 0, "", 0, false
}

// pyFloat5 formats v as Keras's messages do, "%.5f" with Python's "inf".
func pyFloat5(v float64) string {
	if math.IsInf(v, 0) {
		return strings.TrimPrefix(pythonFloat(v), "+")
	}
	return fmt.Sprintf("%.5f", v)
}

// callbackState is what a resumed run needs of the callbacks: each
// ModelCheckpoint's best value and epoch, and each EarlyStopping's best
// value and the epochs it has waited, in the spec's order. Values are
// strings so that the infinities of a fresh monitor survive JSON.
type callbackState struct {
	Checkpoints []monitorState `json:"checkpoints"`
	Stoppers    []monitorState `json:"stoppers"`
}

type monitorState struct {
	Best  string `json:"best"`
	Epoch int    `json:"epoch,omitempty"`
	Wait  int    `json:"wait,omitempty"`
}

// State returns the callbacks' state as JSON, for a checkpoint.
func (r *Callbacks) State() string {
	var s callbackState
	for _, c := range r.checkpoints {
		s.Checkpoints = append(s.Checkpoints, monitorState{Best: strconv.FormatFloat(c.best, 'g', -1, 64), Epoch: c.bestEpoch})
	}
	for _, e := range r.stoppers {
		s.Stoppers = append(s.Stoppers, monitorState{Best: strconv.FormatFloat(e.best, 'g', -1, 64), Wait: e.wait})
	}
	b, _ := json.Marshal(s)
	return string(b)
}

// Restore sets the callbacks' state from State's JSON, as saved after
// epoch epochs. It checks every value, so a crafted checkpoint cannot make
// the run misbehave.
func (r *Callbacks) Restore(state string, epochs int) error {
	var s callbackState
	if err := json.Unmarshal([]byte(state), &s); err != nil {
		return fmt.Errorf("the callbacks' state is corrupt: %v", err)
	}
	if len(s.Checkpoints) != len(r.checkpoints) || len(s.Stoppers) != len(r.stoppers) {
		return fmt.Errorf("the callbacks' state has %d ModelCheckpoint and %d EarlyStopping, the spec %d and %d", len(s.Checkpoints), len(s.Stoppers), len(r.checkpoints), len(r.stoppers))
	}
	parse := func(m monitorState) (float64, error) {
		v, err := strconv.ParseFloat(m.Best, 64)
		if err != nil || math.IsNaN(v) {
			return 0, fmt.Errorf("the callbacks' state holds the best value %q, not a number", m.Best)
		}
		if m.Epoch < 0 || m.Epoch > epochs || m.Wait < 0 || m.Wait > epochs {
			return 0, fmt.Errorf("the callbacks' state holds epoch %d and wait %d, outside the %d epochs done", m.Epoch, m.Wait, epochs)
		}
		return v, nil
	}
	for i, c := range r.checkpoints {
		v, err := parse(s.Checkpoints[i])
		if err != nil {
			return err
		}
		c.best, c.bestEpoch = v, s.Checkpoints[i].Epoch
	}
	for i, e := range r.stoppers {
		v, err := parse(s.Stoppers[i])
		if err != nil {
			return err
		}
		e.best, e.wait = v, s.Stoppers[i].Wait
	}
	return nil
}
