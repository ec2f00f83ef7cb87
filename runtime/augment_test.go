package runtime

import (
	"math"
	"testing"
)

// augLayer returns the checked layer of a one-layer spec.
func augLayer(in []int, t specLayer) *Layer {
	spec := buildSpec(in, t)
	return &spec.Layers[1]
}

func TestMapCoord(t *testing.T) {
	for _, c := range []struct {
		mode string
		in   float32
		n    int
		want float32
	}{
		{"reflect", -1, 4, 0}, {"reflect", -2, 4, 1}, {"reflect", -4, 4, 3}, {"reflect", -5, 4, 3},
		{"reflect", -0.5, 4, 0}, {"reflect", 4, 4, 3}, {"reflect", 5, 4, 2}, {"reflect", 4.5, 4, 2.5},
		{"reflect", 8, 4, 0}, {"reflect", 1.5, 4, 1.5}, {"reflect", -3, 1, 0},
		{"nearest", -3, 4, 0}, {"nearest", 7.5, 4, 3}, {"nearest", 2.25, 4, 2.25},
		{"wrap", 4, 4, 0}, {"wrap", -1, 4, 3}, {"wrap", 5.5, 4, 1.5},
		{"constant", -3, 4, -3}, {"constant", 9, 4, 9},
	} {
		if got := mapCoord(c.mode, c.in, c.n); got != c.want {
			t.Errorf("mapCoord(%s, %g, %d) = %g, want %g", c.mode, c.in, c.n, got, c.want)
		}
	}
}

func TestAugmentIdentity(t *testing.T) {
	in := refSeq(5*4*2, 0, 1)
	out := make([]float32, len(in))
	for _, l := range []*Layer{
		augLayer([]int{5, 4, 2}, tRotation(0, 0, "reflect", "bilinear")),
		augLayer([]int{5, 4, 2}, tZoom([2]float32{0, 0}, [2]float32{0, 0}, "reflect", "bilinear")),
		augLayer([]int{5, 4, 2}, tFlip(false, false)),
	} {
		rng := NewRNG(1)
		AugmentForward(l, &rng, in, out)
		refExpect(t, l.Kind, out, in)
	}
}

func TestRandomFlip(t *testing.T) {
	l := augLayer([]int{2, 3, 1}, tFlip(true, true))
	in := []float32{1, 2, 3, 4, 5, 6}
	out := make([]float32, 6)
	seen := map[[2]bool]bool{}
	for seed := uint64(0); seed < 32; seed++ {
		rng := NewRNG(seed)
		st := AugmentForward(l, &rng, in, out)
		check := NewRNG(seed)
		h, v := check.Float32() < 0.5, check.Float32() < 0.5
		if st.FlipH != h || st.FlipV != v {
			t.Fatalf("seed %d: drew %v %v, want %v %v", seed, st.FlipH, st.FlipV, h, v)
		}
		seen[[2]bool{h, v}] = true
		want := in
		switch {
		case h && v:
			want = []float32{6, 5, 4, 3, 2, 1}
		case h:
			want = []float32{3, 2, 1, 6, 5, 4}
		case v:
			want = []float32{4, 5, 6, 1, 2, 3}
		}
		refExpect(t, "flip", out, want)
		d := make([]float32, 6)
		AugmentBackward(l, &st, out, d)
		refExpect(t, "flip backward", d, in) // a flip is its own transpose
	}
	if len(seen) != 4 {
		t.Errorf("32 seeds drew only %v", seen)
	}
	// Vertical only draws once.
	l = augLayer([]int{2, 3, 1}, tFlip(false, true))
	rng := NewRNG(3)
	st := AugmentForward(l, &rng, in, out)
	check := NewRNG(3)
	if st.FlipH || st.FlipV != (check.Float32() < 0.5) {
		t.Errorf("vertical flip drew %+v", st)
	}
}

func TestRandomRotationQuarterTurns(t *testing.T) {
	const n = 5
	in := refSeq(n*n, 0, 1)
	out := make([]float32, n*n)
	// A quarter turn maps output (x, y) to input (n-1-y, x).
	l := augLayer([]int{n, n, 1}, tRotation(0.25, 0.25, "reflect", "bilinear"))
	rng := NewRNG(1)
	st := AugmentForward(l, &rng, in, out)
	if math.Abs(float64(st.Angle)-math.Pi/2) > 1e-6 {
		t.Fatalf("angle %g, want pi/2", st.Angle)
	}
	want := make([]float32, n*n)
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			want[y*n+x] = in[x*n+(n-1-y)]
		}
	}
	refExpect(t, "quarter turn", out, want)
	// A half turn reverses the image.
	l = augLayer([]int{n, n, 1}, tRotation(0.5, 0.5, "constant", "nearest"))
	AugmentForward(l, &rng, in, out)
	for i := range want {
		want[i] = in[n*n-1-i]
	}
	refExpect(t, "half turn", out, want)
}

func TestRandomZoomByHand(t *testing.T) {
	in := []float32{0, 10, 20, 30}
	out := make([]float32, 4)
	// Width zoom 2 (zooming out): x' = 2x - 1.5, reflected.
	l := augLayer([]int{1, 4, 1}, tZoom([2]float32{0, 0}, [2]float32{1, 1}, "reflect", "bilinear"))
	rng := NewRNG(1)
	st := AugmentForward(l, &rng, in, out)
	if st.ZoomH != 1 || st.ZoomW != 2 {
		t.Fatalf("zoom %g x %g, want 1 x 2", st.ZoomH, st.ZoomW)
	}
	refExpect(t, "zoom out", out, []float32{5, 5, 25, 25})
	// Width zoom 0.5 (zooming in): x' = 0.5x + 0.75.
	l = augLayer([]int{1, 4, 1}, tZoom([2]float32{0, 0}, [2]float32{-0.5, -0.5}, "reflect", "bilinear"))
	AugmentForward(l, &rng, in, out)
	refExpect(t, "zoom in", out, []float32{7.5, 12.5, 17.5, 22.5})
	// Zooming out with constant fill reads zeros outside.
	l = augLayer([]int{1, 4, 1}, tZoom([2]float32{0, 0}, [2]float32{1, 1}, "constant", "bilinear"))
	AugmentForward(l, &rng, in, out)
	refExpect(t, "zoom out constant", out, []float32{0, 5, 25, 0})

	// width_factor None (stored equal to Factor) shares one draw.
	l = augLayer([]int{4, 4, 1}, tZoom([2]float32{-0.3, 0.3}, [2]float32{-0.3, 0.3}, "reflect", "bilinear"))
	rng = NewRNG(9)
	st = DrawAugment(l, &rng)
	check := NewRNG(9)
	if want := uniform(&check, 0.7, 1.3); st.ZoomH != want || st.ZoomW != want {
		t.Errorf("zoom %g x %g, want %g x %g", st.ZoomH, st.ZoomW, want, want)
	}
	if rng != check {
		t.Error("width_factor None drew twice")
	}
}

// TestAugmentAdjoint checks that AugmentBackward is the transpose of
// AugmentForward: <F x, r> = <x, F' r>.
func TestAugmentAdjoint(t *testing.T) {
	in := []int{7, 6, 3}
	for _, c := range []specLayer{
		tFlip(true, true),
		tRotation(-0.2, 0.2, "reflect", "bilinear"),
		tRotation(-0.4, 0.4, "wrap", "bilinear"),
		tRotation(-0.2, 0.2, "constant", "bilinear"),
		tRotation(-0.2, 0.2, "nearest", "nearest"),
		tZoom([2]float32{-0.5, 0.5}, [2]float32{-0.2, 0.6}, "reflect", "bilinear"),
		tZoom([2]float32{-0.5, 0.5}, [2]float32{-0.5, 0.5}, "constant", "nearest"),
	} {
		l := augLayer(in, c)
		rng := NewRNG(5)
		for seed := uint64(0); seed < 4; seed++ {
			x := make([]float32, prod(in))
			r := make([]float32, prod(in))
			for i := range x {
				x[i], r[i] = rng.Float32()-0.5, rng.Float32()-0.5
			}
			fx := make([]float32, len(x))
			ftr := make([]float32, len(x))
			ar := NewRNG(seed)
			st := AugmentForward(l, &ar, x, fx)
			AugmentBackward(l, &st, r, ftr)
			var a, b float64
			for i := range x {
				a += float64(fx[i]) * float64(r[i])
				b += float64(x[i]) * float64(ftr[i])
			}
			if math.Abs(a-b) > 1e-5 {
				t.Errorf("%s %s/%s seed %d: <Fx,r> = %g, <x,F'r> = %g", l.Kind, l.FillMode, l.Interpolation, seed, a, b)
			}
		}
	}
}

func TestDropoutMask(t *testing.T) {
	if got, want := DropoutScale(0.25), float32(4.0/3); got != want {
		t.Errorf("DropoutScale(0.25) = %g, want %g", got, want)
	}
	if DropoutScale(1) != 0 {
		t.Errorf("DropoutScale(1) = %g, want 0", DropoutScale(1))
	}
	mask := make([]float32, 10000)
	rng := NewRNG(1)
	DropoutMask(&rng, 0.5, mask)
	kept := 0
	check := NewRNG(1)
	for _, m := range mask {
		if (m == 2) != (check.Float32() >= 0.5) || (m != 0 && m != 2) {
			t.Fatalf("mask value %g does not follow the draws", m)
		}
		if m == 2 {
			kept++
		}
	}
	if kept < 4800 || kept > 5200 {
		t.Errorf("kept %d of 10000 at rate 0.5", kept)
	}
	rng = NewRNG(1)
	DropoutMask(&rng, 0, mask[:10])
	refExpect(t, "rate 0", mask[:10], refSeq(10, 1, 0))
}

func TestAugmentAllocs(t *testing.T) {
	in := make([]float32, 8*8*3)
	out := make([]float32, len(in))
	for _, c := range []specLayer{tFlip(true, true), tRotation(-0.1, 0.1, "reflect", "bilinear"), tZoom([2]float32{-0.2, 0.2}, [2]float32{-0.2, 0.2}, "reflect", "bilinear")} {
		l := augLayer([]int{8, 8, 3}, c)
		rng := NewRNG(1)
		var st AugmentState
		if n := testing.AllocsPerRun(10, func() {
			st = AugmentForward(l, &rng, in, out)
			AugmentBackward(l, &st, out, in)
		}); n != 0 {
			t.Errorf("%s: %v allocations", l.Kind, n)
		}
	}
	mask := make([]float32, 100)
	rng := NewRNG(1)
	if n := testing.AllocsPerRun(10, func() { DropoutMask(&rng, 0.5, mask) }); n != 0 {
		t.Errorf("DropoutMask: %v allocations", n)
	}
}
