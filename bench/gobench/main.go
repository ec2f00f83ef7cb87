// Command gobench measures the generated MNIST trainer on the machine it
// runs on: training and inference throughput, single-image latency, peak
// memory, and the FMA ceiling of one core. bench/run compares its figures
// with PyTorch's from the same run.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/convc/convc/generated/mnist"
	"github.com/convc/convc/runtime"
)

func main() {
	steps := flag.Int("steps", 100, "training steps of batch 64 to time (after 5 warm-up steps)")
	workers := flag.Int("workers", 2, "workers (cores) to use")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the timed training steps to this file")
	flag.Parse()

	dir, err := runtime.MNISTDir()
	check(err)
	tr, te, err := runtime.LoadMNIST(dir)
	check(err)
	net := mnist.New()
	spec := net.Spec()
	train, err := runtime.NewIDXSource(spec, tr, dir)
	check(err)
	test, err := runtime.NewIDXSource(spec, te, dir)
	check(err)
	runtime.InitParams(spec, net.Params(), 0)

	res := map[string]float64{}
	res["workers"] = float64(*workers)
	res["simd"] = b2f(simdEnabled())

	// Training: steps of 64 images, as the book's fit does.
	t, err := runtime.NewTrainer(net, *workers, 64, 0)
	check(err)
	idx := make([]int, 64)
	step := func(s int) {
		for i := range idx {
			idx[i] = (s*64 + i) % train.Len()
		}
		_, _, err := t.Step(train, idx)
		check(err)
	}
	for s := range 5 {
		step(s)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	start := time.Now()
	for s := range *steps {
		step(5 + s)
	}
	el := time.Since(start).Seconds()
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	res["train_images_per_second"] = float64(*steps*64) / el
	res["epoch_seconds"] = 60000 / res["train_images_per_second"]
	t.Close()

	// Inference at batch 1,000: 1,000 test images split across workers.
	ws := make([]runtime.Worker, *workers)
	for i := range ws {
		ws[i] = net.NewWorker()
	}
	xs := make([][]float32, *workers)
	for i := range xs {
		xs[i] = make([]float32, spec.InputSize())
	}
	y := make([][]float32, *workers)
	for i := range y {
		y[i] = make([]float32, 1)
	}
	infer := func(first int) {
		var wg sync.WaitGroup
		for w := range *workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 1000; i += *workers {
					test.Sample((first+i)%test.Len(), xs[w], y[w])
					ws[w].Forward(xs[w], false, 0)
				}
			}()
		}
		wg.Wait()
	}
	infer(0)
	start = time.Now()
	const batches = 5
	for b := range batches {
		infer(b * 1000)
	}
	res["infer_images_per_second"] = batches * 1000 / time.Since(start).Seconds()

	// Single-image latency: one Forward call on one worker.
	x := xs[0]
	test.Sample(0, x, y[0])
	for range 50 {
		ws[0].Forward(x, false, 0)
	}
	n := 0
	start = time.Now()
	for time.Since(start) < 500*time.Millisecond {
		ws[0].Forward(x, false, 0)
		n++
	}
	res["predict_latency_us"] = time.Since(start).Seconds() / float64(n) * 1e6

	res["peak_rss_mb"] = peakRSS()
	macs := forwardMACs(spec)
	res["train_gflops"] = res["train_images_per_second"] * float64(macs) * 2 * 3 / 1e9
	res["fma_ceiling_gflops"] = fmaProbe(*workers)
	res["ceiling_fraction"] = res["train_gflops"] / res["fma_ceiling_gflops"]
	// The arithmetic the kernels execute: Winograd layers do fewer
	// multiply-adds than the direct convolution the nominal figure counts.
	res["train_exec_gflops"] = res["train_images_per_second"] * float64(executedMACs(spec, simdEnabled())) * 2 * 3 / 1e9
	res["exec_ceiling_fraction"] = res["train_exec_gflops"] / res["fma_ceiling_gflops"]
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
}

// executedMACs counts the multiply-accumulates of one forward pass as the
// kernels do them: like forwardMACs, except that a layer the SIMD build
// computes with Winograd's F(2x2, 3x3) does 16 per tile and channel pair.
func executedMACs(s *runtime.Spec, simd bool) int64 {
	n := forwardMACs(s)
	if !simd {
		return n
	}
	for _, l := range s.Layers {
		if l.WinogradTiles > 0 {
			n -= int64(l.Out[0] * l.Out[1] * l.Out[2] * l.KH * l.KW * l.In[2])
			n += int64(l.WinogradTiles * 16 * l.In[2] * l.Out[2])
		}
	}
	return n
}

// forwardMACs counts the multiply-accumulates of one forward pass.
func forwardMACs(s *runtime.Spec) int64 {
	var n int64
	for _, l := range s.Layers {
		switch l.Kind {
		case "Conv2D":
			n += int64(l.Out[0] * l.Out[1] * l.Out[2] * l.KH * l.KW * l.In[2])
		case "Dense":
			n += int64(l.In[0] * l.Units)
		}
	}
	return n
}

// peakRSS returns the process's peak resident set in MB (VmHWM).
func peakRSS() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			kb, _ := strconv.ParseFloat(f[0], 64)
			return kb / 1024
		}
	}
	return 0
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}
