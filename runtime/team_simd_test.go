//go:build goexperiment.simd && amd64

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTeamParksAndWakes runs one scratch's split convolutions back to back
// (helpers spinning) and with pauses longer than teamSpin between them
// (helpers parked and woken), and checks every result against one
// goroutine's, bit for bit.
func TestTeamParksAndWakes(t *testing.T) {
	p := &ConvPlan{Layer: "team", InH: 14, InW: 14, Ci: 32, OutH: 12, OutW: 12, Co: 128, LiveH: 12, LiveW: 12,
		KH: 3, KW: 3, SH: 1, SW: 1, Width: 16, Block: 64, Pixels: 2, Chunk: 32, L1: 48 << 10, L2: 1 << 20, ReLU: true}
	r := rand.New(rand.NewPCG(9, 10))
	in := make([]float32, p.InH*p.InW*p.Ci+3)
	k := make([]float32, 9*p.Ci*p.Co)
	for i := range in[:len(in)-3] {
		in[i] = r.Float32()
	}
	for i := range k {
		k[i] = r.Float32() - 0.5
	}
	var pk PackedConv
	want := make([]float32, p.OutH*p.OutW*p.Co)
	ConvTiled(p, in, k, nil, want, &pk, &ConvScratch{Par: 1})
	s := &ConvScratch{Par: 3}
	for i := range 12 {
		q := *p
		q.Winograd = i%2 == 1
		out := make([]float32, len(want))
		ConvTiled(&q, in, k, nil, out, &pk, s)
		for j := range out {
			if q.Winograd {
				if d := math.Abs(float64(out[j] - want[j])); d > 1e-4 {
					t.Fatalf("call %d (Winograd): out[%d] = %v, the direct kernel gives %v", i, j, out[j], want[j])
				}
			} else if math.Float32bits(out[j]) != math.Float32bits(want[j]) {
				t.Fatalf("call %d: out[%d] = %v on 3 goroutines, %v on one", i, j, out[j], want[j])
			}
		}
		if i%3 == 2 {
			time.Sleep(3 * teamSpin)
		}
	}
}

// TestTeamEndsWithScratch checks that a scratch's helpers end once the
// scratch is collected, so that workers dropped by a Predictor's pool do
// not leave goroutines behind.
func TestTeamEndsWithScratch(t *testing.T) {
	before := goruntime.NumGoroutine()
	func() {
		s := &ConvScratch{Par: 4}
		s.helpers(4)
		if n := goruntime.NumGoroutine(); n < before+3 {
			t.Fatalf("%d goroutines with a team of 3 helpers, %d before", n, before)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines 10 s after the scratch was dropped, %d before", goruntime.NumGoroutine(), before)
		}
		goruntime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

// TestClaimEachPartOnce has goroutines claim the parts of a split, their
// own first and then the others', and checks that each part is claimed
// exactly once and each goroutine's own parts come in order.
func TestClaimEachPartOnce(t *testing.T) {
	for _, c := range []struct{ par, parts int }{{1, 1}, {2, 8}, {3, 7}, {4, 4}, {3, 12}} {
		claims := make([]atomic.Uint64, c.par)
		for g := range c.par {
			claims[g].Store(uint64(g*c.parts/c.par)<<32 | uint64((g+1)*c.parts/c.par))
		}
		got := make([][]int, c.par)
		var wg sync.WaitGroup
		for g := range c.par {
			wg.Go(func() {
				for k := claim(claims, g); k >= 0; k = claim(claims, g) {
					got[g] = append(got[g], k)
				}
			})
		}
		wg.Wait()
		seen := make([]int, c.parts)
		for g, ks := range got {
			own := g * c.parts / c.par
			for _, k := range ks {
				seen[k]++
				if k >= g*c.parts/c.par && k < (g+1)*c.parts/c.par {
					if k != own {
						t.Errorf("par %d: goroutine %d took its own part %d out of order (want %d)", c.par, g, k, own)
					}
					own++
				}
			}
		}
		for k, n := range seen {
			if n != 1 {
				t.Errorf("par %d, %d parts: part %d claimed %d times", c.par, c.parts, k, n)
			}
		}
	}
}

// TestTeamsShareCores runs split convolutions from several goroutines at
// once, each with its own scratch and team, more goroutines than cores:
// every call must finish with the single-goroutine result, bit for bit.
func TestTeamsShareCores(t *testing.T) {
	p := &ConvPlan{Layer: "teams", InH: 14, InW: 14, Ci: 32, OutH: 12, OutW: 12, Co: 128, LiveH: 12, LiveW: 12,
		KH: 3, KW: 3, SH: 1, SW: 1, Width: 16, Block: 64, Pixels: 2, Chunk: 32, L1: 48 << 10, L2: 1 << 20, ReLU: true, Winograd: true}
	r := rand.New(rand.NewPCG(19, 20))
	in := make([]float32, p.InH*p.InW*p.Ci+3)
	k := make([]float32, 9*p.Ci*p.Co)
	for i := range in[:len(in)-3] {
		in[i] = r.Float32()
	}
	for i := range k {
		k[i] = r.Float32() - 0.5
	}
	var pk PackedConv
	want := make([]float32, p.OutH*p.OutW*p.Co)
	ConvTiled(p, in, k, nil, want, &pk, &ConvScratch{Par: 1})
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 2 * goruntime.GOMAXPROCS(0) {
		wg.Go(func() {
			s := &ConvScratch{Par: 2 + g%2}
			out := make([]float32, len(want))
			for range 20 {
				ConvTiled(p, in, k, nil, out, &pk, s)
				for j := range out {
					if math.Float32bits(out[j]) != math.Float32bits(want[j]) {
						errs <- fmt.Sprintf("goroutine %d: out[%d] = %v, one goroutine gives %v", g, j, out[j], want[j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
