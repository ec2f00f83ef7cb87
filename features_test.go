package convc

import (
	"math"
	"sync/atomic"
	"testing"

	"github.com/convc/convc/generated/mnist_features"
	"github.com/convc/convc/runtime"
)

// countingNet counts how often its workers run the frozen base (Features)
// and the whole network (Forward).
type countingNet struct {
	*mnist_features.Model
	features, forwards atomic.Int64
}

func (n *countingNet) NewWorker() runtime.Worker {
	return &countingWorker{n.Model.NewWorker().(runtime.FeatureWorker), n}
}

type countingWorker struct {
	runtime.FeatureWorker
	n *countingNet
}

func (w *countingWorker) Features(x []float32, training bool) []float32 {
	w.n.features.Add(1)
	return w.FeatureWorker.Features(x, training)
}

func (w *countingWorker) Forward(x []float32, training bool, seed uint64) []float32 {
	w.n.forwards.Add(1)
	return w.FeatureWorker.Forward(x, training, seed)
}

// TestFeatureCache trains the head of mnist_features over its frozen base
// for three epochs with and without the feature cache: after the first
// epoch the cached run never runs the base, and both runs end with the
// same weights, bit for bit, and the same validation metrics.
func TestFeatureCache(t *testing.T) {
	dir, err := runtime.MNISTDir()
	if err != nil {
		t.Fatal(err)
	}
	tr, _, err := runtime.LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	run := func(cache int64) (*countingNet, *runtime.History, []int64) {
		n := &countingNet{Model: mnist_features.New()}
		runtime.InitParams(n.Spec(), n.Params(), 5)
		train, err := runtime.NewIDXSource(n.Spec(), tr.Slice(0, 200), dir)
		if err != nil {
			t.Fatal(err)
		}
		val, err := runtime.NewIDXSource(n.Spec(), tr.Slice(200, 300), dir)
		if err != nil {
			t.Fatal(err)
		}
		var base []int64
		h, err := runtime.Fit(n, train, runtime.FitConfig{
			Epochs: 3, BatchSize: 32, Seed: 9, Workers: 2, Shuffle: true, Validation: val, FeatureCache: cache,
			EpochEnd: func(epoch int, logs map[string]float64) (bool, error) {
				base = append(base, n.features.Load()+n.forwards.Load())
				return false, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		return n, h, base
	}
	plain, ph, pbase := run(0)
	cached, ch, cbase := run(1 << 30)
	if pbase[0] != 300 || pbase[2] != 900 {
		t.Errorf("without the cache the base ran %v times after each epoch; want 300, 600, 900", pbase)
	}
	if cbase[0] != 300 || cbase[1] != 300 || cbase[2] != 300 || cached.forwards.Load() != 0 {
		t.Errorf("with the cache the base ran %v times after each epoch (Forward %d times); want 300 each time and no Forward", cbase, cached.forwards.Load())
	}
	for i, p := range plain.Params() {
		for j, v := range p {
			if math.Float32bits(v) != math.Float32bits(cached.Params()[i][j]) {
				t.Fatalf("%s differs at %d: %g with the cache, %g without", plain.Spec().Params[i].Name, j, cached.Params()[i][j], v)
			}
		}
	}
	for i := range ph.Rows {
		for j, v := range ph.Rows[i] {
			if ch.Rows[i][j] != v {
				t.Errorf("epoch %d: %s = %g with the cache, %g without", i+1, ph.Metrics[j], ch.Rows[i][j], v)
			}
		}
	}
}
