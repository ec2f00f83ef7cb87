package main

import (
	"sync"
	"time"
)

// scalarProbe measures scalar float32 multiply-adds with 12 independent
// chains per goroutine.
func scalarProbe(workers int) float64 {
	var wg sync.WaitGroup
	counts := make([]int, workers)
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var a [12]float32
			x, y := float32(1.0000001), float32(0.9999999)
			n := 0
			deadline := time.Now().Add(300 * time.Millisecond)
			for time.Now().Before(deadline) {
				for range 1024 {
					for i := range a {
						a[i] = a[i]*x + y
					}
				}
				n += 1024
			}
			counts[w] = n
			ssink = a[0]
		}()
	}
	wg.Wait()
	total := 0
	for _, c := range counts {
		total += c
	}
	return float64(total) * 12 * 2 / time.Since(start).Seconds() / 1e9
}

var ssink float32
