// Package bigbench measures generated models the way bench/run-big
// compares them with PyTorch: a training step at batch 32, inference at
// batch 32 and one image, on synthetic data so that data loading is
// excluded, as it is on PyTorch's side (bench/pytorch_big.py). bench/run-big
// generates the models and a main package that calls Measure; the models
// are too large to commit.
package bigbench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/convc/convc/runtime"
)

// Batch is the batch size of every measurement, the book's.
const Batch = 32

// source serves fixed random images in [0, 255] and alternating labels.
type source struct {
	spec *runtime.Spec
	xs   [][]float32
}

func newSource(spec *runtime.Spec, n int) *source {
	rng := runtime.NewRNG(7)
	s := &source{spec: spec}
	for range n {
		x := make([]float32, spec.InputSize())
		for i := range x {
			x[i] = 255 * rng.Float32()
		}
		s.xs = append(s.xs, x)
	}
	return s
}

func (s *source) Len() int { return len(s.xs) }

func (s *source) Sample(i int, x, y []float32) {
	copy(x, s.xs[i])
	for j := range y {
		y[j] = 0
	}
	if runtime.LabelSize(s.spec) == 1 || len(y) == 1 {
		y[0] = float32(i % 2)
	} else {
		y[i%len(y)] = 1
	}
}

// median returns the median of the durations of reps calls of f, after
// one call to warm up.
func median(reps int, f func()) float64 {
	f()
	ts := make([]float64, reps)
	for i := range ts {
		t0 := time.Now()
		f()
		ts[i] = time.Since(t0).Seconds()
	}
	sort.Float64s(ts)
	return ts[len(ts)/2]
}

// Measure times what is asked of net, with workers cores, and writes one
// JSON object: "<prefix>train_img_s", "<prefix>infer_img_s" and
// "<prefix>latency_ms".
func Measure(w io.Writer, prefix string, net runtime.Net, workers, reps int, train, infer, latency bool) error {
	spec := net.Spec()
	runtime.InitParams(spec, net.Params(), 1)
	src := newSource(spec, Batch)
	res := map[string]float64{}
	if train {
		t, err := runtime.NewTrainer(net, workers, Batch, 0)
		if err != nil {
			return err
		}
		idx := make([]int, Batch)
		for i := range idx {
			idx[i] = i
		}
		var stepErr error
		d := median(reps, func() {
			if _, _, err := t.Step(src, idx); err != nil {
				stepErr = err
			}
		})
		if stepErr != nil {
			return fmt.Errorf("%s: %v", spec.Name, stepErr)
		}
		res[prefix+"train_img_s"] = Batch / d
		t.Close()
	}
	p := runtime.NewPredictor(net)
	in, out := spec.InputSize(), spec.OutputSize()
	xs := make([]float32, Batch*in)
	for i := range Batch {
		copy(xs[i*in:], src.xs[i])
	}
	probs := make([]float32, Batch*out)
	if infer {
		res[prefix+"infer_img_s"] = Batch / median(reps, func() { p.PredictBatch(xs, probs) })
	}
	if latency {
		res[prefix+"latency_ms"] = 1000 * median(max(reps, 10), func() { p.Predict(xs[:in], probs[:out]) })
	}
	return json.NewEncoder(w).Encode(res)
}

// PeakRSS returns the process's peak resident set in MB (VmHWM of
// /proc/self/status), or 0 where it cannot be read.
func PeakRSS() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return float64(kb) / 1024
		}
	}
	return 0
}
