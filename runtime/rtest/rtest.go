// Package rtest holds the checks that every generated package runs in its
// tests: its kernels against the runtime's reference interpreter, a
// training step without allocation, determinism across worker counts, and
// benchmarks of a training step.
package rtest

import (
	"fmt"
	"math"
	goruntime "runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"

	"github.com/convc/convc/runtime"
)

// RandomParams fills the network's parameters with glorot_uniform kernels
// and small random biases, so that bias paths are exercised too.
func RandomParams(net runtime.Net, seed uint64) {
	spec := net.Spec()
	params := net.Params()
	runtime.InitParams(spec, params, seed)
	rng := runtime.NewRNG(seed ^ 0x5eed)
	for i, p := range spec.Params {
		if p.Init == "zeros" {
			for j := range params[i] {
				params[i][j] = 0.1 * (2*rng.Float32() - 1)
			}
		}
	}
}

// RandomInput returns a sample of the network's input size, in [0, 1)
// with about a quarter of the values exactly zero, as in image data.
func RandomInput(spec *runtime.Spec, seed uint64) []float32 {
	rng := runtime.NewRNG(seed)
	x := make([]float32, spec.InputSize())
	for i := range x {
		if v := rng.Float32(); v > 0.25 {
			x[i] = v
		}
	}
	return x
}

// closeTo reports the largest difference between got and want relative to
// the largest magnitude in want, and whether it is within tol.
func closeTo(got, want []float32, tol float64) (float64, int, bool) {
	var scale float64
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	scale = math.Max(scale, 1e-6)
	worst, at := 0.0, -1
	for i := range want {
		d := math.Abs(float64(got[i])-float64(want[i])) / scale
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	return worst, at, worst <= tol
}

// CheckAgainstReference compares the generated forward pass and the
// parameter gradients of net with the reference interpreter's on random
// weights and inputs: the forward pass in inference mode (for networks
// without Dropout or Random* layers, whose inference is the identity) and
// in training mode, and the backward pass after the training forward.
//
// Forward outputs must agree element by element to 1e-4 of the output's
// largest magnitude. Gradients are compared by their relative error in the
// L2 norm, which must stay below 1e-3: in a deep network, float32 rounding
// in another order (SIMD kernels use FMA) can flip which element a max pool
// picks or whether a ReLU fires for a handful of elements, and those flips
// move single elements of a gradient sum by more than 1e-3 without the
// kernel being wrong.
func CheckAgainstReference(t *testing.T, net runtime.Net) {
	t.Helper()
	spec := net.Spec()
	ref := runtime.NewReference(spec)
	gw, rw := net.NewWorker(), ref.NewWorker()
	x := RandomInput(spec, 100)
	const seed = 42
	// A first pass with other weights: kernels that keep state derived
	// from the weights (Winograd's transformed kernels) must notice that
	// the weights below were written through Params.
	RandomParams(net, 3)
	gw.Forward(x, false, seed)
	RandomParams(net, 7)
	for i, p := range net.Params() {
		copy(ref.Params()[i], p)
	}
	training := false
	for _, l := range spec.Layers {
		switch l.Kind {
		case "Dropout", "RandomFlip", "RandomRotation", "RandomZoom":
			training = true
		}
	}
	if !training {
		// Inference, which may take other code paths (max pooling keeps
		// no indices); training mode follows for the backward pass.
		got := append([]float32(nil), gw.Forward(x, false, seed)...)
		want := append([]float32(nil), rw.Forward(x, false, seed)...)
		if d, at, ok := closeTo(got, want, 1e-4); !ok {
			t.Fatalf("%s: forward (inference): output %d = %g, reference %g (relative difference %.3g)", spec.Name, at, got[at], want[at], d)
		}
		training = true
	}
	got := append([]float32(nil), gw.Forward(x, training, seed)...)
	want := append([]float32(nil), rw.Forward(x, training, seed)...)
	if d, at, ok := closeTo(got, want, 1e-4); !ok {
		t.Fatalf("%s: forward (training=%v): output %d = %g, reference %g (relative difference %.3g)", spec.Name, training, at, got[at], want[at], d)
	}
	// Backward from a random output gradient.
	rng := runtime.NewRNG(200)
	dOut := make([]float32, len(got))
	for i := range dOut {
		dOut[i] = 2*rng.Float32() - 1
	}
	gg, rg := newGrads(spec, net.Params()), newGrads(spec, net.Params())
	gw.Backward(append([]float32(nil), dOut...), gg)
	rw.Backward(append([]float32(nil), dOut...), rg)
	checkFeatures(t, net, x, dOut, gg)

	// The float64 reference is the yardstick. A weight gradient sums one
	// term per pixel, and in the first layers of a deep network those terms
	// cancel heavily, so float32 sums in two different orders (the
	// reference's, and the SIMD kernels' with FMA) can both be off by more
	// than 1e-3. The generated gradient may therefore be off by no more
	// than 1e-3 or four times the float32 reference's own error, whichever
	// is larger.
	p64 := make([][]float64, len(spec.Params))
	for i, p := range net.Params() {
		p64[i] = make([]float64, len(p))
		for j, v := range p {
			p64[i][j] = float64(v)
		}
	}
	w64 := runtime.NewReferenceWorker64(spec, p64)
	x64 := make([]float64, len(x))
	for i, v := range x {
		x64[i] = float64(v)
	}
	w64.Forward(x64, training, seed)
	d64 := make([]float64, len(dOut))
	for i, v := range dOut {
		d64[i] = float64(v)
	}
	g64 := make([][]float64, len(spec.Params))
	for i := range g64 {
		if gg[i] != nil {
			g64[i] = make([]float64, len(p64[i]))
		}
	}
	w64.Backward(d64, g64)
	for i, p := range spec.Params {
		if gg[i] == nil {
			continue
		}
		gotErr, refErr := normDiff64(gg[i], g64[i]), normDiff64(rg[i], g64[i])
		if gotErr > max(1e-3, 4*refErr) {
			_, at, _ := closeTo(gg[i], rg[i], 0)
			t.Errorf("%s: gradient of %s (training=%v): relative L2 error %.3g against the float64 reference (the float32 reference's is %.3g); largest difference at element %d: %g, reference %g", spec.Name, p.Name, training, gotErr, refErr, at, gg[i][at], rg[i][at])
		}
	}
}

// normDiff64 returns ||got-want|| / ||want|| in the L2 norm.
func normDiff64(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - want[i]
		num += d * d
		den += want[i] * want[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func newGrads(spec *runtime.Spec, params [][]float32) [][]float32 {
	g := make([][]float32, len(params))
	for i, p := range spec.Params {
		if p.Trainable {
			g[i] = make([]float32, len(params[i]))
		}
	}
	return g
}

// CheckNoAllocs checks that a worker's forward and backward pass and a
// whole training step of a batch allocate nothing.
func CheckNoAllocs(t *testing.T, net runtime.Net) {
	t.Helper()
	spec := net.Spec()
	RandomParams(net, 1)
	w := net.NewWorker()
	x := RandomInput(spec, 1)
	grads := newGrads(spec, net.Params())
	dOut := make([]float32, spec.OutputSize())
	// AllocsPerRun counts every allocation of the process, not only the
	// pass's. A garbage collection starts its mark workers (allocated
	// goroutines) and empties the scheduler's caches of wait records
	// (sudogs), which the trainer's goroutines then allocate again when
	// they next block, on whichever processor they run. So: one collection
	// first, then none while measuring (a collection could also be
	// triggered by another test's garbage), warm-up passes that refill the
	// caches, and four measured runs divided in integers, which keep out
	// up to three stray allocations while one in every pass still counts.
	goruntime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	if n := testing.AllocsPerRun(4, func() {
		out := w.Forward(x, true, 1)
		copy(dOut, out)
		w.Backward(dOut, grads)
	}); n != 0 {
		t.Errorf("%s: a forward and backward pass allocates %v times", spec.Name, n)
	}
	// A batch of 4 samples: two shards of 8 would cost seconds on the
	// 180x180 models, and 4 already runs the reduction and the optimizer.
	src := &randomSource{spec: spec, n: 4}
	tr, err := runtime.NewTrainer(net, 2, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	idx := make([]int, 4)
	for i := range idx {
		idx[i] = i
	}
	// As above; three warm-up steps let each worker goroutine block on
	// each processor it may run on.
	for range 3 {
		if _, _, err := tr.Step(src, idx); err != nil {
			t.Fatal(err)
		}
	}
	if n := testing.AllocsPerRun(4, func() {
		if _, _, err := tr.Step(src, idx); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("%s: a training step of 4 samples allocates %v times", spec.Name, n)
	}
}

// randomSource serves deterministic random samples.
type randomSource struct {
	spec *runtime.Spec
	n    int
}

func (s *randomSource) Len() int { return s.n }

func (s *randomSource) Sample(i int, x, y []float32) {
	rng := runtime.NewRNG(uint64(i) + 1000)
	for j := range x {
		x[j] = rng.Float32()
	}
	switch s.spec.Loss {
	case "sparse_categorical_crossentropy":
		y[0] = float32(i % s.spec.OutputSize())
	case "categorical_crossentropy":
		clear(y)
		y[i%len(y)] = 1
	default:
		for j := range y {
			y[j] = float32((i + j) % 2)
		}
	}
}

// plainNet hides a network's runtime.DeferringWorker, so that the trainer
// calls Backward for every sample.
type plainNet struct{ runtime.Net }

type plainWorker struct{ runtime.Worker }

func (n plainNet) NewWorker() runtime.Worker { return plainWorker{n.Net.NewWorker()} }

// CheckDeterminism trains copies of a network for a few steps, with 1 and
// with 3 workers, and with 1 worker whose weight gradients are not
// deferred, and checks that their weights are bit-identical.
func CheckDeterminism(t *testing.T, newNet func() runtime.Net) {
	t.Helper()
	var results [][][]float32
	for _, workers := range []int{1, 3, -1} {
		net := newNet()
		RandomParams(net, 3)
		if workers < 0 {
			workers = 1
			net = plainNet{net}
		}
		src := &randomSource{spec: net.Spec(), n: 50}
		if _, err := runtime.Fit(net, src, runtime.FitConfig{Epochs: 2, BatchSize: 20, Seed: 9, Workers: workers, Shuffle: true}); err != nil {
			t.Fatal(err)
		}
		results = append(results, net.Params())
	}
	for r, what := range []string{"1 and 3 workers", "deferred and per-sample weight gradients"} {
		for i := range results[0] {
			for j := range results[0][i] {
				if math.Float32bits(results[0][i][j]) != math.Float32bits(results[r+1][i][j]) {
					t.Fatalf("parameter %d element %d differs between %s: %v vs %v", i, j, what, results[0][i][j], results[r+1][i][j])
				}
			}
		}
	}
}

// BenchTrainStep measures the forward and backward pass of one sample.
func BenchTrainStep(b *testing.B, net runtime.Net) {
	spec := net.Spec()
	RandomParams(net, 1)
	w := net.NewWorker()
	x := RandomInput(spec, 1)
	grads := newGrads(spec, net.Params())
	dOut := make([]float32, spec.OutputSize())
	b.ReportAllocs()
	for b.Loop() {
		out := w.Forward(x, true, 1)
		copy(dOut, out)
		w.Backward(dOut, grads)
	}
	b.ReportMetric(float64(b.Elapsed().Seconds())/float64(b.N)*1e6, "µs/sample")
}

// BenchPredict measures the forward pass of one sample.
func BenchPredict(b *testing.B, net runtime.Net) {
	spec := net.Spec()
	RandomParams(net, 1)
	w := net.NewWorker()
	x := RandomInput(spec, 1)
	b.ReportAllocs()
	for b.Loop() {
		w.Forward(x, false, 0)
	}
}

// Library is the inference API of a generated package.
type Library interface {
	runtime.Net
	Predict(x, probs []float32) error
	PredictBatch(xs, probs []float32) error
}

// CheckInference checks that Predict and PredictBatch agree with each
// other, allocate nothing once warmed up, and give the same results when
// called from several goroutines at once.
func CheckInference(t *testing.T, m Library) {
	t.Helper()
	spec := m.Spec()
	// A new model without embedded weights refuses to predict until its
	// weights are set, rather than answer from zeros.
	if e, ok := m.(runtime.Embedded); !ok || !e.HasEmbeddedWeights() {
		x, p := make([]float32, spec.InputSize()), make([]float32, spec.OutputSize())
		if err := m.Predict(x, p); err == nil || !strings.Contains(err.Error(), "no weights yet") {
			t.Errorf("%s: Predict before the weights are set returned %v; want an error", spec.Name, err)
		}
		if err := m.PredictBatch(x, p); err == nil {
			t.Errorf("%s: PredictBatch before the weights are set returned no error", spec.Name)
		}
	}
	RandomParams(m, 5)
	in, out := spec.InputSize(), spec.OutputSize()
	const n = 5
	xs := make([]float32, 0, n*in)
	for i := range n {
		xs = append(xs, RandomInput(spec, uint64(i))...)
	}
	want := make([]float32, n*out)
	for i := range n {
		if err := m.Predict(xs[i*in:(i+1)*in], want[i*out:(i+1)*out]); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]float32, n*out)
	if err := m.PredictBatch(xs, got); err != nil {
		t.Fatal(err)
	}
	// A worker that splits one sample across goroutines (Predict on a
	// machine with several cores) gives the same bits with any number.
	if w, ok := m.NewWorker().(runtime.Parallel); ok {
		one := append([]float32(nil), w.(runtime.Worker).Forward(xs[:in], false, 0)...)
		for _, par := range []int{2, 3} {
			w.SetParallel(par)
			split := w.(runtime.Worker).Forward(xs[:in], false, 0)
			for i := range one {
				if math.Float32bits(split[i]) != math.Float32bits(one[i]) {
					t.Fatalf("%s: inference split across %d goroutines gives output %d = %g, one goroutine %g", spec.Name, par, i, split[i], one[i])
				}
			}
		}
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: PredictBatch output %d = %g, Predict gives %g", spec.Name, i, got[i], want[i])
		}
	}
	if err := m.Predict(xs[:in-1], want[:out]); err == nil {
		t.Errorf("%s: Predict accepts an input of the wrong size", spec.Name)
	}
	// Measured as CheckNoAllocs measures: no collection while measuring,
	// warm-up calls that let the helper goroutines block everywhere.
	goruntime.GC()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for range 3 {
		m.Predict(xs[:in], got[:out])
		m.PredictBatch(xs, got)
	}
	if a := testing.AllocsPerRun(4, func() { m.Predict(xs[:in], got[:out]) }); a != 0 {
		t.Errorf("%s: Predict allocates %v times per call", spec.Name, a)
	}
	if a := testing.AllocsPerRun(4, func() { m.PredictBatch(xs, got) }); a != 0 {
		t.Errorf("%s: PredictBatch allocates %v times per call", spec.Name, a)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 4*n)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]float32, out)
			for i := range n {
				k := (i + g) % n
				m.Predict(xs[k*in:(k+1)*in], p)
				for j := range p {
					if p[j] != want[k*out+j] {
						errs <- fmt.Sprintf("goroutine %d, input %d: output %d = %g, want %g", g, k, j, p[j], want[k*out+j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("%s: concurrent Predict: %s", spec.Name, e)
	}
}

// NewGrads returns zeroed gradient buffers for the trainable parameters of
// net, nil for the frozen ones.
func NewGrads(net runtime.Net) [][]float32 { return newGrads(net.Spec(), net.Params()) }

// Fill fills s with uniform values in [-1, 1) drawn from seed.
func Fill(s []float32, seed uint64) {
	rng := runtime.NewRNG(seed)
	for i := range s {
		s[i] = 2*rng.Float32() - 1
	}
}

// SameBits fails t unless got and want hold the same float32 bits: kernel
// name's SIMD version against its portable one, for kernels that take
// their sums in the portable kernel's order.
func SameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: element %d is %g (bits %#x), the portable kernel's %g (bits %#x)", name, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

// SameInts fails t unless got and want are equal: the indices that a SIMD
// max pooling kernel keeps against the portable one's.
func SameInts(t *testing.T, name string, got, want []int32) {
	t.Helper()
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: index %d is %d, the portable kernel's %d", name, i, got[i], want[i])
		}
	}
}

// checkFeatures checks, for a network with a frozen base that the trainer
// caches (runtime.FeaturePrefix), that a worker's Features followed by
// ForwardFeatures gives the bits of Forward, in training and inference,
// and that Backward after them gives the gradients grads that Backward
// gave after Forward(x, true, 42) with dOut.
func checkFeatures(t *testing.T, net runtime.Net, x, dOut []float32, grads [][]float32) {
	t.Helper()
	spec := net.Spec()
	k := runtime.FeaturePrefix(spec)
	w := net.NewWorker()
	fw, ok := w.(runtime.FeatureWorker)
	if k == 0 {
		if ok {
			t.Errorf("%s: the worker implements FeatureWorker, but the network has no frozen base", spec.Name)
		}
		return
	}
	if !ok {
		t.Fatalf("%s: layers 1-%d are a frozen base, but the worker does not implement FeatureWorker", spec.Name, k)
	}
	for _, training := range []bool{false, true} {
		want := append([]float32(nil), w.Forward(x, training, 42)...)
		f := append([]float32(nil), fw.Features(x, training)...)
		if want, got := len(f), sizeOf(spec.Layers[k].Out); want != got {
			t.Fatalf("%s: Features returned %d floats, want %d", spec.Name, want, got)
		}
		// Another input in between: ForwardFeatures must not depend on
		// what the worker computed last.
		w.Forward(RandomInput(spec, 5), training, 7)
		got := fw.ForwardFeatures(f, training, 42)
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
				t.Fatalf("%s: ForwardFeatures(Features(x)) (training=%v) output %d = %g, Forward gives %g", spec.Name, training, i, got[i], want[i])
			}
		}
	}
	g := newGrads(spec, net.Params())
	w.Backward(append([]float32(nil), dOut...), g)
	for i := range g {
		for j := range g[i] {
			if math.Float32bits(g[i][j]) != math.Float32bits(grads[i][j]) {
				t.Fatalf("%s: gradient of %s after ForwardFeatures differs at %d: %g, after Forward %g", spec.Name, spec.Params[i].Name, j, g[i][j], grads[i][j])
			}
		}
	}
}

func sizeOf(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}
