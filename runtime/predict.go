package runtime

import (
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
)

// Predictor runs inference with a network: the class probabilities of one
// input or of a batch. It is safe for concurrent use, and in steady state
// a call allocates nothing: workers are kept in a pool, and batches are
// split across goroutines that live as long as the Predictor.
type Predictor struct {
	net  Net
	spec *Spec
	in   int
	out  int

	pool chan Worker
	wgs  chan *sync.WaitGroup

	once  sync.Once
	jobs  chan batchJob
	nproc int
	// busy counts the Predict calls in progress, which share the cores.
	busy atomic.Int32
}

type batchJob struct {
	xs, probs []float32
	// par is the goroutines each sample's tiled convolutions use: more
	// than 1 when the batch has fewer samples than cores.
	par int
	wg  *sync.WaitGroup
}

// NewPredictor returns a predictor for net. Weights must not change while
// it is in use.
func NewPredictor(net Net) *Predictor {
	spec := net.Spec()
	n := goruntime.GOMAXPROCS(0)
	return &Predictor{
		net: net, spec: spec,
		in: spec.InputSize(), out: spec.OutputSize(),
		pool: make(chan Worker, 2*n), wgs: make(chan *sync.WaitGroup, 2*n), nproc: n,
	}
}

func (p *Predictor) get() Worker {
	select {
	case w := <-p.pool:
		return w
	default:
		return p.net.NewWorker()
	}
}

func (p *Predictor) put(w Worker) {
	select {
	case p.pool <- w:
	default:
	}
}

// Predict writes the probabilities of one input (InputSize floats) into
// probs (OutputSize floats): the softmax over classes, or the sigmoid of
// each unit, as the model's last layer defines.
func (p *Predictor) Predict(x, probs []float32) error {
	if len(x) != p.in || len(probs) != p.out {
		return fmt.Errorf("%s: Predict needs %d inputs and %d outputs, got %d and %d", p.spec.Name, p.in, p.out, len(x), len(probs))
	}
	w := p.get()
	// One sample has the machine to itself: its tiled convolutions split
	// their work across every core, with the same result as on one. Calls
	// made at the same time share the cores instead.
	busy := int(p.busy.Add(1))
	defer p.busy.Add(-1)
	par, _ := w.(Parallel)
	if par != nil {
		par.SetParallel(max(1, p.nproc/busy))
	}
	p.spec.ActivateHead(w.Forward(x, false, 0), probs)
	if par != nil {
		par.SetParallel(1)
	}
	p.put(w)
	return nil
}

// PredictBatch writes the probabilities of len(xs)/InputSize inputs, laid
// out one after the other, into probs, using every core.
func (p *Predictor) PredictBatch(xs, probs []float32) error {
	if len(xs)%p.in != 0 || len(probs) != len(xs)/p.in*p.out {
		return fmt.Errorf("%s: PredictBatch needs a multiple of %d inputs and %d outputs per input, got %d and %d", p.spec.Name, p.in, p.out, len(xs), len(probs))
	}
	n := len(xs) / p.in
	if n == 0 {
		return nil
	}
	p.once.Do(p.start)
	// Chunks of consecutive samples, one per core at most.
	chunks := min(n, p.nproc)
	per := (n + chunks - 1) / chunks
	var wg *sync.WaitGroup
	select {
	case wg = <-p.wgs:
	default:
		wg = new(sync.WaitGroup)
	}
	for lo := 0; lo < n; lo += per {
		hi := min(lo+per, n)
		wg.Add(1)
		p.jobs <- batchJob{xs: xs[lo*p.in : hi*p.in], probs: probs[lo*p.out : hi*p.out], par: max(p.nproc/chunks, 1), wg: wg}
	}
	wg.Wait()
	select {
	case p.wgs <- wg:
	default:
	}
	return nil
}

func (p *Predictor) start() {
	p.jobs = make(chan batchJob)
	for range p.nproc {
		go func() {
			w := p.net.NewWorker()
			par, _ := w.(Parallel)
			for j := range p.jobs {
				if par != nil {
					par.SetParallel(j.par)
				}
				for i := 0; i < len(j.xs)/p.in; i++ {
					p.spec.ActivateHead(w.Forward(j.xs[i*p.in:(i+1)*p.in], false, 0), j.probs[i*p.out:(i+1)*p.out])
				}
				j.wg.Done()
			}
		}()
	}
}
