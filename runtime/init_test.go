package runtime

import (
	"math"
	"testing"
)

func TestInitParams(t *testing.T) {
	spec := buildSpec([]int{28, 28, 1}, tConv(32, 3, 3, 1, 1, false, "relu"), tFlatten(), tDense(10, "softmax"))
	r := NewReference(spec)
	InitParams(spec, r.Params(), 42)
	limits := map[int]float64{0: 0.1421338109037403, 2: math.Sqrt(6.0 / (26*26*32 + 10))}
	for i, p := range spec.Params {
		w := r.Params()[i]
		lim, ok := limits[i]
		if !ok {
			for _, v := range w {
				if v != 0 {
					t.Fatalf("%s is not zero", p.Name)
				}
			}
			continue
		}
		if got := float64(GlorotLimit(p.FanIn, p.FanOut)); math.Abs(got-lim) > 1e-7 {
			t.Errorf("%s: limit %g, want %g", p.Name, got, lim)
		}
		var maxAbs, sum float64
		for _, v := range w {
			maxAbs = math.Max(maxAbs, math.Abs(float64(v)))
			sum += float64(v)
		}
		if maxAbs > lim || maxAbs < 0.95*lim {
			t.Errorf("%s: max |w| = %g, want just below %g", p.Name, maxAbs, lim)
		}
		if mean := sum / float64(len(w)); math.Abs(mean) > 0.1*lim {
			t.Errorf("%s: mean %g is far from 0", p.Name, mean)
		}
		// The first element follows the documented stream.
		rng := NewRNG(Derive(42, 1<<32+uint64(i)))
		if want := (2*rng.Float32() - 1) * GlorotLimit(p.FanIn, p.FanOut); w[0] != want {
			t.Errorf("%s[0] = %g, want %g", p.Name, w[0], want)
		}
	}
	// The same seed gives the same weights, another seed others.
	r2 := NewReference(spec)
	InitParams(spec, r2.Params(), 42)
	if r2.Params()[0][5] != r.Params()[0][5] {
		t.Error("InitParams is not deterministic")
	}
	InitParams(spec, r2.Params(), 43)
	if r2.Params()[0][5] == r.Params()[0][5] {
		t.Error("InitParams ignores the seed")
	}
}
