package runtime

import (
	"math"
	"testing"
)

var (
	lossNames = []string{"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"}
	headNames = []string{"softmax", "sigmoid", "linear", "relu", "tanh"}
)

// lossCase returns logits and a label for loss and head, chosen away from
// the kinks of relu and of the clipping.
func lossCase(loss, head string) (z, label []float64) {
	z = []float64{0.3, 1.2, 0.55, 0.8}
	if head == "softmax" || head == "sigmoid" {
		z = []float64{-2.5, 1.7, 0.4, 3.1}
	}
	switch loss {
	case "sparse_categorical_crossentropy":
		label = []float64{2}
	case "categorical_crossentropy":
		label = []float64{0.1, 0.2, 0.6, 0.3} // soft and not summing to one
	default:
		label = []float64{0, 1, 0.25, 1}
	}
	if loss == "binary_crossentropy" && head != "softmax" && head != "sigmoid" {
		z = []float64{0.3, 0.7, 0.55, 0.9}
	}
	return z, label
}

func TestLossGradients(t *testing.T) {
	for _, loss := range lossNames {
		for _, head := range headNames {
			z, label := lossCase(loss, head)
			dz := make([]float64, len(z))
			LossGrad64(loss, head, z, label, dz)
			const h = 1e-6
			for j := range z {
				old := z[j]
				z[j] = old + h
				lp, _ := LossGrad64(loss, head, z, label, make([]float64, len(z)))
				z[j] = old - h
				lm, _ := LossGrad64(loss, head, z, label, make([]float64, len(z)))
				z[j] = old
				num := (lp - lm) / (2 * h)
				if math.Abs(num-dz[j]) > 1e-6*math.Max(1, math.Abs(num)) {
					t.Errorf("%s with %s: dz[%d] = %.10g, numeric %.10g", loss, head, j, dz[j], num)
				}
			}
		}
	}
}

func TestLossValues(t *testing.T) {
	z := []float32{1, 2, 3}
	dz := make([]float32, 3)
	// log(e+e^2+e^3) - 2.
	l, acc := LossGrad("sparse_categorical_crossentropy", "softmax", z, []float32{1}, dz)
	want := math.Log(math.E+math.Exp(2)+math.Exp(3)) - 2
	if math.Abs(l-want) > 1e-12 || acc != 0 {
		t.Errorf("sparse softmax: loss %g acc %g, want %g 0", l, acc, want)
	}
	if _, acc := LossGrad("sparse_categorical_crossentropy", "softmax", z, []float32{2}, dz); acc != 1 {
		t.Errorf("sparse softmax: acc %g for the argmax, want 1", acc)
	}
	l, acc = LossGrad("categorical_crossentropy", "softmax", z, []float32{0, 0, 1}, dz)
	if want := math.Log(math.E+math.Exp(2)+math.Exp(3)) - 3; math.Abs(l-want) > 1e-12 || acc != 1 {
		t.Errorf("categorical softmax: loss %g acc %g, want %g 1", l, acc, want)
	}
	// Probabilities from a linear head are clipped: p = 0 costs -log(1e-7).
	l, _ = LossGrad("categorical_crossentropy", "linear", []float32{0, 1}, []float32{1, 0}, dz)
	if want := -math.Log(Epsilon); math.Abs(l-want) > 1e-9 {
		t.Errorf("categorical linear: loss %g, want %g", l, want)
	}
	// Binary from logits: max(z,0) - z*y + log1p(exp(-|z|)), mean over units.
	l, acc = LossGrad("binary_crossentropy", "sigmoid", []float32{2, -1}, []float32{1, 1}, dz)
	want = (math.Log1p(math.Exp(-2)) + 1 + math.Log1p(math.Exp(-1))) / 2
	if math.Abs(l-want) > 1e-7 || acc != 0.5 {
		t.Errorf("binary sigmoid: loss %g acc %g, want %g 0.5", l, acc, want)
	}
	// Binary on probabilities: -(y log(p+eps) + (1-y) log(1-p+eps)).
	l, acc = LossGrad("binary_crossentropy", "linear", []float32{0.8}, []float32{1}, dz)
	if want := -math.Log(float64(float32(0.8)) + Epsilon); math.Abs(l-want) > 1e-9 || acc != 1 {
		t.Errorf("binary linear: loss %g acc %g, want %g 1", l, acc, want)
	}
}

func TestLossStableForLargeLogits(t *testing.T) {
	dz := make([]float32, 3)
	l, _ := LossGrad("sparse_categorical_crossentropy", "softmax", []float32{1000, -1000, 0}, []float32{1}, dz)
	if l != 2000 || dz[0] != 1 || dz[1] != -1 {
		t.Errorf("loss %g, dz %v; want 2000, [1 -1 0]", l, dz)
	}
	l, _ = LossGrad("binary_crossentropy", "sigmoid", []float32{100, -100}, []float32{0, 1}, dz[:2])
	if l != 100 || dz[0] != 0.5 || dz[1] != -0.5 {
		t.Errorf("loss %g, dz %v; want 100, [0.5 -0.5]", l, dz[:2])
	}
}

func TestLossBadLabels(t *testing.T) {
	z := []float32{1, 2, 3}
	for _, y := range []float32{-1, 3, 1.5, float32(math.NaN()), float32(math.Inf(1))} {
		dz := []float32{9, 9, 9}
		l, acc := LossGrad("sparse_categorical_crossentropy", "softmax", z, []float32{y}, dz)
		if !math.IsNaN(l) || acc != 0 || dz[0] != 0 || dz[2] != 0 {
			t.Errorf("label %g: loss %g acc %g dz %v; want NaN 0 zeros", y, l, acc, dz)
		}
	}
	dz := make([]float32, 3)
	if l, _ := LossGrad("categorical_crossentropy", "softmax", z, []float32{1}, dz); !math.IsNaN(l) {
		t.Errorf("short label: loss %g, want NaN", l)
	}
	if l, _ := LossGrad("sparse_categorical_crossentropy", "softmax", z, nil, dz); !math.IsNaN(l) {
		t.Errorf("no label: loss %g, want NaN", l)
	}
	if l, _ := LossGrad("hinge", "softmax", z, []float32{1}, dz); !math.IsNaN(l) {
		t.Errorf("unknown loss: loss %g, want NaN", l)
	}
}

func TestLossGradAllocs(t *testing.T) {
	z, dz := []float32{1, 2, 3, 4}, make([]float32, 4)
	for _, loss := range lossNames {
		for _, head := range headNames {
			label := []float32{1, 0, 1, 0}
			if n := testing.AllocsPerRun(10, func() { LossGrad(loss, head, z, label, dz) }); n != 0 {
				t.Errorf("%s with %s: %v allocations", loss, head, n)
			}
		}
	}
}

func TestActivate(t *testing.T) {
	z := []float32{-1, 0, 2}
	out := make([]float32, 3)
	for _, c := range []struct {
		act  string
		want []float64
	}{
		{"linear", []float64{-1, 0, 2}},
		{"relu", []float64{0, 0, 2}},
		{"sigmoid", []float64{1 / (1 + math.E), 0.5, 1 / (1 + math.Exp(-2))}},
		{"tanh", []float64{math.Tanh(-1), 0, math.Tanh(2)}},
		{"softmax", []float64{math.Exp(-1) / (math.Exp(-1) + 1 + math.Exp(2)), 1 / (math.Exp(-1) + 1 + math.Exp(2)), math.Exp(2) / (math.Exp(-1) + 1 + math.Exp(2))}},
	} {
		Activate(c.act, z, out)
		for i := range out {
			if math.Abs(float64(out[i])-c.want[i]) > 1e-7 {
				t.Errorf("%s: %v, want %v", c.act, out, c.want)
				break
			}
		}
	}
	big := []float32{1000, 1000}
	Activate("softmax", big, big)
	if big[0] != 0.5 || big[1] != 0.5 {
		t.Errorf("softmax of large logits = %v", big)
	}
}

// TestFastActivations bounds the error of the generated kernels' Tanh
// and Sigmoid against math's, in float64, over a fine grid and the edges.
func TestFastActivations(t *testing.T) {
	var xs []float32
	for x := -20.0; x <= 20; x += 1.0 / 1024 {
		xs = append(xs, float32(x))
	}
	xs = append(xs, 0, 1e-30, -1e-30, 1e-8, 88, -88, 1e30, -1e30, float32(math.Inf(1)), float32(math.Inf(-1)))
	th, sg := make([]float32, len(xs)), make([]float32, len(xs))
	Tanh(th, xs)
	Sigmoid(sg, xs)
	var worstT, worstS float64
	for i, x := range xs {
		worstT = max(worstT, math.Abs(float64(th[i])-math.Tanh(float64(x))))
		worstS = max(worstS, math.Abs(float64(sg[i])-sigmoid(float64(x))))
	}
	t.Logf("largest error: tanh %.3g, sigmoid %.3g", worstT, worstS)
	if worstT > 5e-7 || worstS > 3e-7 {
		t.Errorf("largest error: tanh %.3g (bound 5e-7), sigmoid %.3g (bound 3e-7)", worstT, worstS)
	}
	nan := []float32{float32(math.NaN())}
	Tanh(nan, nan)
	if !math.IsNaN(float64(nan[0])) {
		t.Errorf("Tanh(NaN) = %g", nan[0])
	}
}

func BenchmarkTanh(b *testing.B) {
	x := make([]float32, 4096)
	for i := range x {
		x[i] = float32(i-2048) / 256
	}
	y := make([]float32, len(x))
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			Tanh(y, x)
		}
	})
	b.Run("math", func(b *testing.B) {
		for b.Loop() {
			for i, v := range x {
				y[i] = float32(math.Tanh(float64(v)))
			}
		}
	})
}

// TestFastActivationsScalarTwin checks that the vector code of Tanh and
// Sigmoid (in the SIMD build) gives the bits of the scalar code, NaN
// included, on every tail length.
func TestFastActivationsScalarTwin(t *testing.T) {
	rng := NewRNG(3)
	for n := range 40 {
		x := make([]float32, n)
		for i := range x {
			x[i] = 24*rng.Float32() - 12
		}
		if n > 5 {
			x[3] = float32(math.NaN())
			x[5] = float32(math.Inf(-1))
		}
		th, sg := make([]float32, n), make([]float32, n)
		Tanh(th, x)
		Sigmoid(sg, x)
		for i, v := range x {
			wt, ws := tanh32(v), 0.5+0.5*tanh32(0.5*v)
			same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || a != a && b != b }
			if !same(th[i], wt) || !same(sg[i], ws) {
				t.Fatalf("n=%d, x[%d]=%g: Tanh %g, Sigmoid %g; the scalar code gives %g, %g", n, i, v, th[i], sg[i], wt, ws)
			}
		}
	}
}
