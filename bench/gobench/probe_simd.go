//go:build goexperiment.simd && amd64

package main

import (
	"simd/archsimd"
	"sync"
	"time"
)

func simdEnabled() bool { return archsimd.X86.AVX2() && archsimd.X86.FMA() }

// fmaProbe measures the FMA ceiling: 8 independent Float32x8 accumulators
// per goroutine, one goroutine per worker, for 300 ms.
func fmaProbe(workers int) float64 {
	if !simdEnabled() {
		return scalarProbe(workers)
	}
	var wg sync.WaitGroup
	counts := make([]int, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[w] = fmaLoop(300 * time.Millisecond)
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	total := 0
	for _, c := range counts {
		total += c
	}
	// Each iteration: 4 x 8 FMAs of 8 lanes, 2 flops each.
	return float64(total) * 4 * 8 * 8 * 2 / el / 1e9
}

func fmaLoop(d time.Duration) int {
	x := archsimd.BroadcastFloat32x8(1.0000001)
	y := archsimd.BroadcastFloat32x8(0.9999999)
	a0, a1, a2, a3 := x, y, x, y
	a4, a5, a6, a7 := y, x, y, x
	n := 0
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		for range 1024 {
			for range 4 {
				a0 = a0.MulAdd(x, y)
				a1 = a1.MulAdd(x, y)
				a2 = a2.MulAdd(x, y)
				a3 = a3.MulAdd(x, y)
				a4 = a4.MulAdd(x, y)
				a5 = a5.MulAdd(x, y)
				a6 = a6.MulAdd(x, y)
				a7 = a7.MulAdd(x, y)
			}
		}
		n += 1024
	}
	var out [8]float32
	a0.Add(a1).Add(a2).Add(a3).Add(a4).Add(a5).Add(a6).Add(a7).Store(&out)
	sink = out[0]
	archsimd.ClearAVXUpperBits()
	return n
}

var sink float32
