package runtime

import (
	"fmt"
	"io"
	"math"
	"sync"
)

// Source gives a trainer its samples by index.
type Source interface {
	// Len returns the number of samples.
	Len() int
	// Sample writes the input of sample i (InputSize floats) into x and its
	// label into y (1 float for a class index, OutputSize floats for
	// one-hot or binary labels).
	Sample(i int, x, y []float32)
}

// LabelSize returns the number of floats in one label for a loss.
func LabelSize(s *Spec) int {
	if s.Loss == "sparse_categorical_crossentropy" {
		return 1
	}
	return s.OutputSize()
}

// shardSize is the number of consecutive samples of a batch whose
// gradients one worker sums in order. Shards, not workers, own gradient
// buffers, and shards are reduced in a fixed order, so the result does not
// depend on how many workers there are. Each shard's buffers are cleared
// and reduced once per step, so shards are large: a batch of 64 makes 4,
// two for each of 2 workers.
const shardSize = 16

// Trainer runs training steps of a network. It owns one worker per
// goroutine and one gradient buffer per shard of a batch; a step allocates
// nothing.
type Trainer struct {
	net     Net
	spec    *Spec
	opt     Opt
	params  [][]float32
	workers []Worker
	// grads[s][p] is shard s's gradient of parameter p; nil for frozen
	// parameters.
	grads [][][]float32
	// total[p] is the reduced gradient of parameter p.
	total [][]float32
	// Per-worker sample buffers.
	xs, ys, dos [][]float32
	// Per-sample results of the current batch.
	loss, correct []float64

	batch []int
	seed  uint64
	step  uint64

	jobs []chan job
	wg   sync.WaitGroup

	// The feature caches (SetFeatureCache): the last layer of the frozen
	// base, the byte limit and use, and one cache per source (nil for a
	// source over the limit).
	featLayer           int
	featLimit, featUsed int64
	caches              map[Source]*featureCache
	// cur is the cache of the source of the job in flight, or nil.
	cur *featureCache
}

type job struct {
	kind  int // jobTrain, jobReduce or jobEval
	src   Source
	first int // for jobEval: first index of the range
}

const (
	jobTrain = iota
	jobReduce
	jobEval
)

// NewTrainer returns a trainer for net with the given number of workers
// (at least 1) and batch size. Call Close when done.
func NewTrainer(net Net, workers, batchSize int, seed uint64) (*Trainer, error) {
	spec := net.Spec()
	if workers < 1 {
		workers = 1
	}
	if batchSize < 1 {
		return nil, fmt.Errorf("batch size must be at least 1, got %d", batchSize)
	}
	opt, err := NewOptimizer(spec.Optimizer, spec)
	if err != nil {
		return nil, err
	}
	t := &Trainer{net: net, spec: spec, opt: opt, params: net.Params(), seed: seed}
	nshards := (batchSize + shardSize - 1) / shardSize
	t.grads = make([][][]float32, nshards)
	for s := range t.grads {
		t.grads[s] = t.newGrads()
	}
	t.total = t.newGrads()
	in, out, lab := spec.InputSize(), spec.OutputSize(), LabelSize(spec)
	for range workers {
		t.workers = append(t.workers, net.NewWorker())
		t.xs = append(t.xs, make([]float32, in))
		t.ys = append(t.ys, make([]float32, lab))
		t.dos = append(t.dos, make([]float32, out))
	}
	t.loss = make([]float64, max(batchSize, evalChunk))
	t.correct = make([]float64, max(batchSize, evalChunk))
	t.batch = make([]int, 0, batchSize)
	t.jobs = make([]chan job, workers)
	for w := range t.jobs {
		t.jobs[w] = make(chan job)
		go t.run(w)
	}
	return t, nil
}

func (t *Trainer) newGrads() [][]float32 {
	g := make([][]float32, len(t.spec.Params))
	for p, ps := range t.spec.Params {
		if ps.Trainable {
			g[p] = make([]float32, len(t.params[p]))
		}
	}
	return g
}

// Close stops the trainer's goroutines.
func (t *Trainer) Close() {
	for _, c := range t.jobs {
		close(c)
	}
}

func (t *Trainer) run(w int) {
	for j := range t.jobs[w] {
		switch j.kind {
		case jobTrain:
			t.trainShards(w, j.src)
		case jobReduce:
			t.reduce(w)
		case jobEval:
			t.evalRange(w, j.src, j.first)
		}
		t.wg.Done()
	}
}

// dispatch runs the job on every worker and waits for all of them.
func (t *Trainer) dispatch(j job) {
	t.wg.Add(len(t.jobs))
	for _, c := range t.jobs {
		c <- j
	}
	t.wg.Wait()
}

// trainShards runs worker w's shards of the current batch: shard s goes to
// worker s mod workers.
func (t *Trainer) trainShards(w int, src Source) {
	nw := len(t.workers)
	wk, x, y, do := t.workers[w], t.xs[w], t.ys[w], t.dos[w]
	head := t.spec.HeadActivation()
	dw, deferring := wk.(DeferringWorker)
	fw, _ := wk.(FeatureWorker)
	cache := t.cur
	for s := w; s*shardSize < len(t.batch); s += nw {
		g := t.grads[s]
		for _, gp := range g {
			clear(gp)
		}
		end := min((s+1)*shardSize, len(t.batch))
		for b := s * shardSize; b < end; b++ {
			idx := t.batch[b]
			var out []float32
			if cache != nil {
				f := cache.features(fw, src, idx, x, y, true)
				out = fw.ForwardFeatures(f, true, Derive(t.seed, t.step, uint64(idx)))
			} else {
				src.Sample(idx, x, y)
				out = wk.Forward(x, true, Derive(t.seed, t.step, uint64(idx)))
			}
			t.loss[b], t.correct[b] = LossGrad(t.spec.Loss, head, out, y, do)
			if deferring {
				dw.BackwardDefer(do, g, b == end-1)
			} else {
				wk.Backward(do, g)
			}
		}
	}
}

// reduce sums the shards' gradients in shard order into total, each worker
// taking a contiguous range of every parameter, and divides by the batch
// size (Keras averages the loss over the batch). When the optimizer is
// elementwise, the worker then applies it to its ranges, while they are in
// cache; the result does not depend on how the ranges are cut.
func (t *Trainer) reduce(w int) {
	nw := len(t.workers)
	nshards := (len(t.batch) + shardSize - 1) / shardSize
	inv := 1 / float32(len(t.batch))
	for p, tot := range t.total {
		if tot == nil {
			continue
		}
		lo, hi := partRange(len(tot), w, nw)
		dst := tot[lo:hi]
		copy(dst, t.grads[0][p][lo:hi])
		for s := 1; s < nshards; s++ {
			for i, v := range t.grads[s][p][lo:hi] {
				dst[i] += v
			}
		}
		for i := range dst {
			dst[i] *= inv
		}
	}
	if po, ok := t.opt.(partOpt); ok {
		po.stepPart(t.params, t.total, w, nw)
	}
}

// Step trains on the samples of src at the given indices (at most the
// batch size given to NewTrainer) and returns the batch's mean loss and
// accuracy. When the loss is not finite, Step leaves the parameters as
// they were and returns an error.
func (t *Trainer) Step(src Source, indices []int) (loss, acc float64, err error) {
	t.batch = append(t.batch[:0], indices...)
	t.cur = t.cacheFor(src)
	t.dispatch(job{kind: jobTrain, src: src})
	for b := range t.batch {
		loss += t.loss[b]
		acc += t.correct[b]
	}
	n := float64(len(t.batch))
	loss, acc = loss/n, acc/n
	t.step++
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, acc, errNonFinite
	}
	if po, ok := t.opt.(partOpt); ok {
		po.begin()
		t.dispatch(job{kind: jobReduce})
	} else {
		t.dispatch(job{kind: jobReduce})
		t.opt.Step(t.params, t.total)
	}
	return loss, acc, nil
}

var errNonFinite = fmt.Errorf("the loss is not finite")

// evalChunk is the number of samples Evaluate hands out per round.
const evalChunk = 256

func (t *Trainer) evalRange(w int, src Source, first int) {
	nw := len(t.workers)
	wk, x, y, do := t.workers[w], t.xs[w], t.ys[w], t.dos[w]
	head := t.spec.HeadActivation()
	n := min(evalChunk, src.Len()-first)
	fw, _ := wk.(FeatureWorker)
	cache := t.cur
	for b := w; b < n; b += nw {
		var out []float32
		if cache != nil {
			out = fw.ForwardFeatures(cache.features(fw, src, first+b, x, y, false), false, 0)
		} else {
			src.Sample(first+b, x, y)
			out = wk.Forward(x, false, 0)
		}
		t.loss[b], t.correct[b] = LossGrad(t.spec.Loss, head, out, y, do)
	}
}

// Evaluate returns the mean loss and accuracy of the network on src, with
// training-only layers off. progress, if not nil, is called after each
// chunk with the number of samples done.
func (t *Trainer) Evaluate(src Source, progress func(done int, loss, acc float64)) (loss, acc float64) {
	n := src.Len()
	var sl, sa float64
	t.cur = t.cacheFor(src)
	for first := 0; first < n; first += evalChunk {
		t.dispatch(job{kind: jobEval, src: src, first: first})
		m := min(evalChunk, n-first)
		for b := range m {
			sl += t.loss[b]
			sa += t.correct[b]
		}
		if progress != nil {
			done := first + m
			progress(done, sl/float64(done), sa/float64(done))
		}
	}
	if n == 0 {
		return 0, 0
	}
	return sl / float64(n), sa / float64(n)
}

// FitConfig configures Fit.
type FitConfig struct {
	Epochs    int
	BatchSize int
	Seed      uint64
	Workers   int
	// Shuffle reorders the training samples each epoch from the seed.
	Shuffle bool
	// Validation, if not nil, is evaluated after each epoch.
	Validation Source
	// Out receives the progress; Interactive redraws the bar in place.
	Out         io.Writer
	Interactive bool
	// StartEpoch is the number of epochs already done when resuming: Fit
	// runs epochs StartEpoch+1 to Epochs, with the shuffling and the
	// training-only layers drawing exactly what an uninterrupted run draws.
	StartEpoch int
	// History holds the epochs already done when resuming.
	History *History
	// OptState, when resuming, is the optimizer state to restore, as
	// Opt.State returned it.
	OptState []NamedTensor
	// Checkpoint, if not nil, is called after each epoch, after EpochEnd,
	// with what a resumed run needs.
	Checkpoint func(epoch int, opt Opt, hist *History) error
	// FeatureCache, when positive, caches the outputs of a frozen base
	// (see FeaturePrefix and Trainer.SetFeatureCache) for the training and
	// validation samples, up to this many bytes.
	FeatureCache int64
	// EpochEnd, if not nil, is called after each epoch with its metrics
	// (loss, accuracy, and val_loss, val_accuracy with validation data). It
	// stops training by returning true.
	EpochEnd func(epoch int, logs map[string]float64) (stop bool, err error)
}

// FitError reports a failure during training with the epoch and batch
// where it happened (both counted from 1).
type FitError struct {
	Epoch, Batch int
	Err          error
}

func (e *FitError) Error() string {
	return fmt.Sprintf("epoch %d, batch %d: %v", e.Epoch, e.Batch, e.Err)
}

func (e *FitError) Unwrap() error { return e.Err }

// Fit trains net on train as Keras's model.fit does and returns the
// history of every metric per epoch. The parameters must already be
// initialized.
func Fit(net Net, train Source, cfg FitConfig) (*History, error) {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if train.Len() == 0 {
		return nil, fmt.Errorf("no training samples")
	}
	// A batch larger than the data is the whole data, as in Keras; the
	// trainer's buffers are sized by it.
	t, err := NewTrainer(net, cfg.Workers, min(cfg.BatchSize, train.Len()), cfg.Seed)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	if cfg.FeatureCache > 0 {
		if msg := t.SetFeatureCache(cfg.FeatureCache); msg != "" {
			n := train.Len()
			if cfg.Validation != nil {
				n += cfg.Validation.Len()
			}
			per := int64(prod(t.spec.Layers[t.featLayer].Out) + LabelSize(t.spec))
			mb := float64(int64(n)*per*4) / (1 << 20)
			if int64(n)*per*4 > cfg.FeatureCache {
				fmt.Fprintf(cfg.Out, "%s: %.1f MB for %d training and validation samples is over the limit, so the base runs every epoch for what does not fit (raise -feature-cache-mb)\n", msg, mb, n)
			} else {
				fmt.Fprintf(cfg.Out, "%s: %.1f MB for %d training and validation samples\n", msg, mb, n)
			}
		}
	}
	hist := cfg.History
	if hist == nil {
		hist = &History{}
	}
	n := train.Len()
	perm := make([]int, n)
	steps := (n + cfg.BatchSize - 1) / cfg.BatchSize
	if err := restoreState(t.opt, cfg.OptState); err != nil {
		return nil, err
	}
	t.step = uint64(cfg.StartEpoch) * uint64(steps)
	for epoch := cfg.StartEpoch + 1; epoch <= cfg.Epochs; epoch++ {
		for i := range perm {
			perm[i] = i
		}
		if cfg.Shuffle {
			rng := NewRNG(Derive(cfg.Seed, 1<<40+uint64(epoch)))
			for i := n - 1; i > 0; i-- {
				j := rng.Intn(i + 1)
				perm[i], perm[j] = perm[j], perm[i]
			}
		}
		fmt.Fprintf(cfg.Out, "Epoch %d/%d\n", epoch, cfg.Epochs)
		bar := NewProgbar(cfg.Out, steps, cfg.Interactive)
		var sumLoss, sumAcc float64
		seen := 0
		metrics := make([]Metric, 2, 4)
		for s := range steps {
			idx := perm[s*cfg.BatchSize : min((s+1)*cfg.BatchSize, n)]
			loss, acc, err := t.Step(train, idx)
			if err != nil {
				return hist, &FitError{Epoch: epoch, Batch: s + 1, Err: err}
			}
			sumLoss += loss * float64(len(idx))
			sumAcc += acc * float64(len(idx))
			seen += len(idx)
			metrics[0] = Metric{"loss", sumLoss / float64(seen)}
			metrics[1] = Metric{"accuracy", sumAcc / float64(seen)}
			if s+1 < steps {
				bar.Update(s+1, metrics)
			}
		}
		logs := map[string]float64{"loss": metrics[0].Value, "accuracy": metrics[1].Value}
		if cfg.Validation != nil && cfg.Validation.Len() > 0 {
			vl, va := t.Evaluate(cfg.Validation, nil)
			logs["val_loss"], logs["val_accuracy"] = vl, va
			metrics = append(metrics, Metric{"val_loss", vl}, Metric{"val_accuracy", va})
		}
		bar.Done(metrics)
		hist.Add(epoch, logs)
		stop := false
		if cfg.EpochEnd != nil {
			stop, err = cfg.EpochEnd(epoch, logs)
			if err != nil {
				return hist, err
			}
		}
		if cfg.Checkpoint != nil {
			if err := cfg.Checkpoint(epoch, t.opt, hist); err != nil {
				return hist, err
			}
		}
		if stop {
			break
		}
	}
	return hist, nil
}

// Evaluate returns the loss and accuracy of net on src, printing a Keras
// progress bar to out (nil for none).
func Evaluate(net Net, src Source, workers int, out io.Writer, interactive bool) (loss, acc float64, err error) {
	t, err := NewTrainer(net, workers, 1, 0)
	if err != nil {
		return 0, 0, err
	}
	defer t.Close()
	var bar *Progbar
	steps := (src.Len() + 31) / 32
	if out != nil {
		bar = NewProgbar(out, steps, interactive)
	}
	loss, acc = t.Evaluate(src, func(done int, l, a float64) {
		if bar != nil && done < src.Len() {
			bar.Update((done+31)/32, []Metric{{"loss", l}, {"accuracy", a}})
		}
	})
	if bar != nil {
		bar.Done([]Metric{{"loss", loss}, {"accuracy", acc}})
	}
	return loss, acc, nil
}

// restoreState copies saved optimizer state into opt, checking that every
// tensor is there with its shape.
func restoreState(opt Opt, saved []NamedTensor) error {
	if saved == nil {
		return nil
	}
	byName := make(map[string]*NamedTensor, len(saved))
	for i := range saved {
		byName[saved[i].Name] = &saved[i]
	}
	for _, st := range opt.State() {
		sv, ok := byName[st.Name]
		if !ok || len(sv.Data) != len(st.Data) {
			return fmt.Errorf("the checkpoint's optimizer state lacks %s or has another shape", st.Name)
		}
		copy(st.Data, sv.Data)
	}
	return nil
}
