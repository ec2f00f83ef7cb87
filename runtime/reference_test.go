package runtime

import (
	"fmt"
	"math"
	"testing"
)

// specLayer is a layer for buildSpec; same asks for "same" padding, and
// pad for explicit padding (top, bottom, left, right).
type specLayer struct {
	Layer
	same bool
	pad  *[4]int
}

// padded gives l the explicit padding (top, bottom, left, right).
func padded(l specLayer, top, bottom, left, right int) specLayer {
	l.pad = &[4]int{top, bottom, left, right}
	return l
}

// countPad makes an average pool divide by its whole window.
func countPad(l specLayer) specLayer {
	l.CountIncludePad = true
	return l
}

func tConv(filters, kh, kw, sh, sw int, same bool, act string) specLayer {
	return specLayer{Layer: Layer{Kind: "Conv2D", Filters: filters, KH: kh, KW: kw, SH: sh, SW: sw, Activation: act, UseBias: true, Trainable: true}, same: same}
}

func tPool(kind string, kh, kw, sh, sw int, same bool) specLayer {
	return specLayer{Layer: Layer{Kind: kind, KH: kh, KW: kw, SH: sh, SW: sw}, same: same}
}

func tDense(units int, act string) specLayer {
	return specLayer{Layer: Layer{Kind: "Dense", Units: units, Activation: act, UseBias: true, Trainable: true}}
}

func noBias(l specLayer) specLayer {
	l.UseBias = false
	return l
}

func tFlatten() specLayer { return specLayer{Layer: Layer{Kind: "Flatten"}} }

func tDropout(rate float32) specLayer { return specLayer{Layer: Layer{Kind: "Dropout", Rate: rate}} }

func tRescaling(scale, offset float32) specLayer {
	return specLayer{Layer: Layer{Kind: "Rescaling", Scale: scale, Offset: offset}}
}

func tPreprocess(mode string) specLayer {
	return specLayer{Layer: Layer{Kind: "PreprocessInput", Mode: mode}}
}

func tFlip(h, v bool) specLayer {
	return specLayer{Layer: Layer{Kind: "RandomFlip", FlipH: h, FlipV: v}}
}

func tRotation(lo, hi float32, fill, interp string) specLayer {
	return specLayer{Layer: Layer{Kind: "RandomRotation", Factor: [2]float32{lo, hi}, FillMode: fill, Interpolation: interp}}
}

func tZoom(h, w [2]float32, fill, interp string) specLayer {
	return specLayer{Layer: Layer{Kind: "RandomZoom", Factor: h, WidthFactor: w, FillMode: fill, Interpolation: interp}}
}

// outLen returns Keras's output length and the padding before the input.
func outLen(in, k, s int, same bool) (out, before int) {
	if !same {
		return (in-k)/s + 1, 0
	}
	out = (in + s - 1) / s
	p := max((out-1)*s+k-in, 0)
	return out, p / 2
}

// buildSpec prepends an InputLayer of shape in, computes every layer's
// shapes and parameters, and names layers l0, l1, ...
func buildSpec(in []int, layers ...specLayer) *Spec {
	s := &Spec{Loss: "sparse_categorical_crossentropy"}
	s.Layers = append(s.Layers, Layer{Kind: "InputLayer", Name: "l0", In: in, Out: in})
	cur := in
	for i, t := range layers {
		l := t.Layer
		l.Name = fmt.Sprintf("l%d", i+1)
		l.In = cur
		switch l.Kind {
		case "Conv2D", "MaxPooling2D", "AveragePooling2D":
			oh, pt := outLen(cur[0], l.KH, l.SH, t.same)
			ow, pl := outLen(cur[1], l.KW, l.SW, t.same)
			if p := t.pad; p != nil {
				oh, pt = (cur[0]+p[0]+p[1]-l.KH)/l.SH+1, p[0]
				ow, pl = (cur[1]+p[2]+p[3]-l.KW)/l.SW+1, p[2]
			}
			l.PadTop, l.PadLeft = pt, pl
			c := cur[2]
			if l.Kind == "Conv2D" {
				c = l.Filters
				s.Params = append(s.Params, ParamSpec{Name: l.Name + "/kernel", Shape: []int{l.KH, l.KW, cur[2], c}, Trainable: true,
					Init: "glorot_uniform", FanIn: l.KH * l.KW * cur[2], FanOut: l.KH * l.KW * c})
				if l.UseBias {
					s.Params = append(s.Params, ParamSpec{Name: l.Name + "/bias", Shape: []int{c}, Trainable: true, Init: "zeros"})
				}
			}
			l.Out = []int{oh, ow, c}
		case "Flatten":
			l.Out = []int{prod(cur)}
		case "Dense":
			l.Out = []int{l.Units}
			s.Params = append(s.Params, ParamSpec{Name: l.Name + "/kernel", Shape: []int{cur[0], l.Units}, Trainable: true,
				Init: "glorot_uniform", FanIn: cur[0], FanOut: l.Units})
			if l.UseBias {
				s.Params = append(s.Params, ParamSpec{Name: l.Name + "/bias", Shape: []int{l.Units}, Trainable: true, Init: "zeros"})
			}
		default:
			l.Out = cur
		}
		s.Layers = append(s.Layers, l)
		cur = l.Out
	}
	return s
}

// randVec returns n values uniform in [lo, hi).
func randVec(rng *RNG, n int, lo, hi float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = lo + (hi-lo)*rng.Float64()
	}
	return v
}

// randParams returns float64 parameters for spec, uniform in [-0.5, 0.5).
func randParams(spec *Spec, rng *RNG) [][]float64 {
	ps := make([][]float64, len(spec.Params))
	for i, p := range spec.Params {
		ps[i] = randVec(rng, prod(p.Shape), -0.5, 0.5)
	}
	return ps
}

// checkGradients compares the reference's analytic gradients of
// L = sum_k r_k*out_k (with respect to the input and every parameter) with
// central differences in float64.
func checkGradients(t *testing.T, spec *Spec, x []float64, params [][]float64, training bool, seed uint64, tol float64) {
	t.Helper()
	w := NewReferenceWorker64(spec, params)
	rng := NewRNG(99)
	r := randVec(&rng, spec.OutputSize(), -1, 1)
	obj := func() float64 {
		out := w.Forward(x, training, seed)
		var s float64
		for k, v := range out {
			s += r[k] * v
		}
		return s
	}
	obj()
	grads := make([][]float64, len(params))
	for i := range params {
		grads[i] = make([]float64, len(params[i]))
	}
	w.Backward(append([]float64(nil), r...), grads)
	dx := append([]float64(nil), w.InputGrad()...)

	const h = 1e-6
	check := func(what string, v []float64, analytic []float64) {
		t.Helper()
		if len(analytic) != len(v) {
			t.Fatalf("%s: gradient has %d elements, want %d", what, len(analytic), len(v))
		}
		for j := range v {
			old := v[j]
			v[j] = old + h
			fp := obj()
			v[j] = old - h
			fm := obj()
			v[j] = old
			num := (fp - fm) / (2 * h)
			if d := math.Abs(num - analytic[j]); d > tol*math.Max(1, math.Abs(num)+math.Abs(analytic[j])) {
				t.Errorf("%s[%d]: analytic %.10g, numeric %.10g", what, j, analytic[j], num)
				return
			}
		}
	}
	check("input", x, dx)
	for i := range params {
		check(spec.Params[i].Name, params[i], grads[i])
	}
}

func TestGradientsLayers(t *testing.T) {
	cases := []struct {
		name   string
		in     []int
		layers []specLayer
		train  bool
	}{
		{"conv valid 3x3 s1 odd", []int{7, 7, 2}, []specLayer{tConv(3, 3, 3, 1, 1, false, "linear")}, false},
		{"conv valid 3x3 s2 even", []int{8, 8, 2}, []specLayer{tConv(3, 3, 3, 2, 2, false, "linear")}, false},
		{"conv valid 3x3 s2 odd", []int{7, 9, 1}, []specLayer{tConv(2, 3, 3, 2, 2, false, "linear")}, false},
		{"conv same 3x3 s1 odd", []int{5, 5, 2}, []specLayer{tConv(3, 3, 3, 1, 1, true, "linear")}, false},
		{"conv same 3x3 s2 odd", []int{5, 7, 2}, []specLayer{tConv(3, 3, 3, 2, 2, true, "linear")}, false},
		{"conv same 3x3 s2 even", []int{6, 6, 2}, []specLayer{tConv(3, 3, 3, 2, 2, true, "linear")}, false},
		{"conv same 2x3 s1", []int{5, 6, 2}, []specLayer{tConv(2, 2, 3, 1, 1, true, "linear")}, false},
		{"conv valid 2x3 s(2,1)", []int{6, 6, 2}, []specLayer{tConv(2, 2, 3, 2, 1, false, "linear")}, false},
		{"conv same 2x3 s2 even", []int{6, 8, 1}, []specLayer{tConv(2, 2, 3, 2, 2, true, "linear")}, false},
		{"conv without bias", []int{5, 4, 2}, []specLayer{noBias(tConv(3, 2, 2, 1, 1, true, "tanh")), noBias(tConv(2, 3, 3, 1, 1, false, "linear"))}, false},
		{"dense without bias", []int{5}, []specLayer{noBias(tDense(3, "sigmoid")), tDense(2, "linear")}, false},
		{"conv 1x1", []int{4, 3, 3}, []specLayer{tConv(2, 1, 1, 1, 1, false, "linear")}, false},
		{"conv 1x1 s2 same", []int{5, 5, 3}, []specLayer{tConv(2, 1, 1, 2, 2, true, "linear")}, false},
		{"conv 5x5 same", []int{6, 5, 1}, []specLayer{tConv(2, 5, 5, 1, 1, true, "linear")}, false},
		{"conv 5x5 valid s2", []int{9, 9, 1}, []specLayer{tConv(2, 5, 5, 2, 2, false, "linear")}, false},
		{"conv relu", []int{5, 5, 2}, []specLayer{tConv(3, 3, 3, 1, 1, false, "relu"), tFlatten(), tDense(3, "linear")}, false},
		{"conv sigmoid", []int{5, 5, 2}, []specLayer{tConv(3, 3, 3, 1, 1, true, "sigmoid"), tFlatten(), tDense(3, "linear")}, false},
		{"conv tanh", []int{5, 5, 2}, []specLayer{tConv(3, 3, 3, 2, 2, true, "tanh"), tFlatten(), tDense(3, "linear")}, false},
		{"conv softmax hidden", []int{4, 4, 2}, []specLayer{tConv(3, 3, 3, 1, 1, true, "softmax"), tFlatten(), tDense(3, "linear")}, false},
		{"conv head activation skipped", []int{4, 4, 2}, []specLayer{tConv(3, 3, 3, 1, 1, true, "softmax")}, false},
		{"max pool valid", []int{5, 5, 2}, []specLayer{tPool("MaxPooling2D", 2, 2, 2, 2, false)}, false},
		{"max pool same odd", []int{5, 5, 2}, []specLayer{tPool("MaxPooling2D", 2, 2, 2, 2, true)}, false},
		{"max pool same 3x3 s2 even", []int{6, 6, 1}, []specLayer{tPool("MaxPooling2D", 3, 3, 2, 2, true)}, false},
		{"max pool 3x2 s1 overlap", []int{5, 4, 2}, []specLayer{tPool("MaxPooling2D", 3, 2, 1, 1, false)}, false},
		{"avg pool valid", []int{5, 5, 2}, []specLayer{tPool("AveragePooling2D", 2, 2, 2, 2, false)}, false},
		{"avg pool same odd", []int{5, 7, 2}, []specLayer{tPool("AveragePooling2D", 2, 2, 2, 2, true)}, false},
		{"avg pool same 3x3 s1", []int{4, 4, 1}, []specLayer{tPool("AveragePooling2D", 3, 3, 1, 1, true)}, false},
		{"conv explicit 1 s2 even", []int{6, 8, 2}, []specLayer{padded(tConv(3, 3, 3, 2, 2, false, "linear"), 1, 1, 1, 1)}, false},
		{"conv explicit top left", []int{5, 4, 2}, []specLayer{padded(tConv(2, 3, 2, 1, 1, false, "tanh"), 2, 0, 1, 0)}, false},
		{"conv explicit wider than kernel", []int{3, 4, 1}, []specLayer{padded(tConv(2, 2, 2, 1, 1, false, "linear"), 3, 1, 0, 2)}, false},
		{"max pool explicit", []int{6, 5, 2}, []specLayer{padded(tPool("MaxPooling2D", 3, 3, 2, 2, false), 1, 0, 2, 1)}, false},
		{"avg pool explicit", []int{6, 5, 2}, []specLayer{padded(tPool("AveragePooling2D", 3, 2, 2, 1, false), 1, 2, 0, 1)}, false},
		{"avg pool explicit count pad", []int{6, 5, 2}, []specLayer{countPad(padded(tPool("AveragePooling2D", 3, 2, 2, 1, false), 1, 2, 0, 1))}, false},
		{"avg pool same count pad", []int{5, 7, 2}, []specLayer{countPad(tPool("AveragePooling2D", 2, 2, 2, 2, true))}, false},
		{"dense linear", []int{6}, []specLayer{tDense(4, "linear")}, false},
		{"dense relu", []int{6}, []specLayer{tDense(5, "relu"), tDense(3, "linear")}, false},
		{"dense sigmoid", []int{6}, []specLayer{tDense(5, "sigmoid"), tDense(3, "linear")}, false},
		{"dense tanh", []int{6}, []specLayer{tDense(5, "tanh"), tDense(3, "linear")}, false},
		{"dense softmax hidden", []int{6}, []specLayer{tDense(5, "softmax"), tDense(3, "linear")}, false},
		{"dense linear hidden", []int{6}, []specLayer{tDense(5, "linear"), tDense(3, "sigmoid")}, false},
		{"flatten", []int{3, 2, 2}, []specLayer{tFlatten(), tDense(3, "linear")}, false},
		{"rescaling", []int{3, 3, 1}, []specLayer{tRescaling(1.0/255, 0.5), tConv(2, 2, 2, 1, 1, false, "linear")}, false},
		{"preprocess caffe", []int{3, 2, 3}, []specLayer{tPreprocess("caffe"), tConv(2, 2, 2, 1, 1, false, "linear")}, false},
		{"preprocess torch", []int{2, 3, 3}, []specLayer{tPreprocess("torch"), tConv(2, 2, 2, 1, 1, false, "linear")}, false},
		{"preprocess tf", []int{2, 2, 3}, []specLayer{tPreprocess("tf"), tFlatten(), tDense(3, "linear")}, false},
		{"dropout training", []int{8}, []specLayer{tDense(10, "tanh"), tDropout(0.4), tDense(3, "linear")}, true},
		{"dropout inference", []int{8}, []specLayer{tDense(10, "tanh"), tDropout(0.4), tDense(3, "linear")}, false},
		{"random flip", []int{4, 5, 2}, []specLayer{tFlip(true, true), tConv(2, 3, 3, 1, 1, false, "linear")}, true},
		{"random rotation reflect", []int{6, 5, 2}, []specLayer{tRotation(-0.1, 0.1, "reflect", "bilinear"), tConv(2, 3, 3, 1, 1, false, "linear")}, true},
		{"random rotation constant", []int{6, 6, 1}, []specLayer{tRotation(-0.2, 0.2, "constant", "bilinear")}, true},
		{"random rotation nearest", []int{5, 6, 1}, []specLayer{tRotation(-0.2, 0.2, "reflect", "nearest")}, true},
		{"random rotation wrap", []int{6, 6, 1}, []specLayer{tRotation(-0.2, 0.2, "wrap", "bilinear")}, true},
		{"random zoom", []int{6, 5, 2}, []specLayer{tZoom([2]float32{-0.3, 0.3}, [2]float32{-0.3, 0.3}, "reflect", "bilinear")}, true},
		{"random zoom width", []int{6, 5, 1}, []specLayer{tZoom([2]float32{-0.3, 0.2}, [2]float32{0.1, 0.4}, "nearest", "bilinear")}, true},
		{"random inference", []int{4, 4, 1}, []specLayer{tFlip(true, true), tRotation(-0.2, 0.2, "reflect", "bilinear"), tZoom([2]float32{-0.3, 0.3}, [2]float32{-0.3, 0.3}, "reflect", "bilinear")}, false},
		{"convnet", []int{9, 9, 1}, []specLayer{tRescaling(0.5, 0), tConv(3, 3, 3, 1, 1, false, "relu"), tPool("MaxPooling2D", 2, 2, 2, 2, false),
			tConv(4, 2, 2, 1, 1, true, "relu"), tFlatten(), tDropout(0.25), tDense(4, "softmax")}, true},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := buildSpec(c.in, c.layers...)
			rng := NewRNG(uint64(ci) + 1)
			params := randParams(spec, &rng)
			x := randVec(&rng, spec.InputSize(), -1, 1)
			// For the max-pooling cases, give every cell a distinct value
			// so no finite-difference step crosses a tie.
			for j := range x {
				x[j] += 0.05 * float64(j%7)
			}
			checkGradients(t, spec, x, params, c.train, 12345, 1e-6)
		})
	}
}

// TestGradientsSeeds runs the random layers with several seeds, so that
// both flips, and rotations and zooms of both signs, are checked.
func TestGradientsSeeds(t *testing.T) {
	spec := buildSpec([]int{5, 6, 1},
		tFlip(true, true),
		tRotation(-0.3, 0.3, "reflect", "bilinear"),
		tZoom([2]float32{-0.4, 0.4}, [2]float32{-0.4, 0.4}, "reflect", "bilinear"),
		tDropout(0.3))
	rng := NewRNG(7)
	x := randVec(&rng, spec.InputSize(), -1, 1)
	for seed := uint64(0); seed < 8; seed++ {
		checkGradients(t, spec, x, nil, true, seed, 1e-6)
	}
}

func TestHeadActivationNotApplied(t *testing.T) {
	spec := buildSpec([]int{3}, tDense(4, "softmax"))
	r := NewReference(spec)
	copy(r.Params()[0], []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	copy(r.Params()[1], []float32{1, 0, 0, -1})
	out := r.NewWorker().Forward([]float32{1, 0, -1}, false, 0)
	want := []float32{1 - 9 + 1, 2 - 10, 3 - 11, 4 - 12 - 1}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("Forward = %v, want the logits %v", out, want)
		}
	}
}

// TestActivateHeadPerPosition checks that a softmax head on an image
// output (a Conv2D with activation="softmax" last, which an inference-only
// spec or an imported segmentation-style model may have) normalizes the
// channels of each position, as Keras's softmax on the last axis and
// ONNX's Softmax over NCHW's channels do, and that Predictor uses it.
func TestActivateHeadPerPosition(t *testing.T) {
	spec := buildSpec([]int{2, 2, 1}, tConv(3, 1, 1, 1, 1, false, "softmax"))
	r := NewReference(spec)
	copy(r.Params()[0], []float32{1, 2, 3})
	x := []float32{0, 1, -1, 2}
	probs := make([]float32, 12)
	NewPredictor(r).Predict(x, probs)
	for p, v := range x {
		var want [3]float64
		sum := 0.0
		for c := range 3 {
			want[c] = math.Exp(float64(v) * float64(c+1))
			sum += want[c]
		}
		for c := range 3 {
			if got := probs[p*3+c]; math.Abs(float64(got)-want[c]/sum) > 1e-6 {
				t.Fatalf("position %d channel %d: %v, want %v (probs %v)", p, c, got, want[c]/sum, probs)
			}
		}
	}
}

func TestReferenceFloat32MatchesFloat64(t *testing.T) {
	spec := buildSpec([]int{8, 8, 1}, tConv(4, 3, 3, 1, 1, false, "relu"), tPool("MaxPooling2D", 2, 2, 2, 2, false),
		tConv(4, 3, 3, 1, 1, true, "tanh"), tPool("AveragePooling2D", 2, 2, 2, 2, true), tFlatten(), tDropout(0.5), tDense(5, "softmax"))
	rng := NewRNG(3)
	p64 := randParams(spec, &rng)
	x64 := randVec(&rng, spec.InputSize(), 0, 1)
	r := NewReference(spec)
	for i := range p64 {
		for j, v := range p64[i] {
			r.Params()[i][j] = float32(v)
			p64[i][j] = float64(float32(v))
		}
	}
	x32 := make([]float32, len(x64))
	for i, v := range x64 {
		x32[i] = float32(v)
		x64[i] = float64(x32[i])
	}
	w32 := r.NewReferenceWorker()
	w64 := NewReferenceWorker64(spec, p64)
	o32 := w32.Forward(x32, true, 5)
	o64 := w64.Forward(x64, true, 5)
	for i := range o32 {
		if math.Abs(float64(o32[i])-o64[i]) > 1e-5 {
			t.Fatalf("out[%d]: float32 %g, float64 %g", i, o32[i], o64[i])
		}
	}
	d32 := make([]float32, len(o32))
	d64 := make([]float64, len(o64))
	for i := range d32 {
		d32[i] = float32(i) - 2
		d64[i] = float64(i) - 2
	}
	g32 := make([][]float32, len(p64))
	g64 := make([][]float64, len(p64))
	for i := range p64 {
		g32[i] = make([]float32, len(p64[i]))
		g64[i] = make([]float64, len(p64[i]))
	}
	g32[1] = nil // a frozen bias gets no gradient
	g64[1] = nil
	w32.Backward(d32, g32)
	w64.Backward(d64, g64)
	for i := range g32 {
		for j := range g32[i] {
			if math.Abs(float64(g32[i][j])-g64[i][j]) > 1e-4 {
				t.Fatalf("grad %d[%d]: float32 %g, float64 %g", i, j, g32[i][j], g64[i][j])
			}
		}
	}
	for j, v := range w32.InputGrad() {
		if math.Abs(float64(v)-w64.InputGrad()[j]) > 1e-4 {
			t.Fatalf("dx[%d]: float32 %g, float64 %g", j, v, w64.InputGrad()[j])
		}
	}
}

func TestBackwardAccumulates(t *testing.T) {
	spec := buildSpec([]int{4}, tDense(2, "linear"))
	r := NewReference(spec)
	copy(r.Params()[0], []float32{1, 2, 3, 4, 5, 6, 7, 8})
	w := r.NewWorker()
	grads := [][]float32{make([]float32, 8), make([]float32, 2)}
	for range 2 {
		w.Forward([]float32{1, 2, 3, 4}, false, 0)
		w.Backward([]float32{1, -1}, grads)
	}
	want := []float32{2, -2, 4, -4, 6, -6, 8, -8}
	for i := range want {
		if grads[0][i] != want[i] {
			t.Fatalf("kernel grad = %v, want %v", grads[0], want)
		}
	}
	if grads[1][0] != 2 || grads[1][1] != -2 {
		t.Fatalf("bias grad = %v, want [2 -2]", grads[1])
	}
}

// runLayer runs a spec of one layer after the input in float32 with all
// kernels set to one and biases to zero.
func runLayer(t *testing.T, spec *Spec, x []float32) ([]float32, *ReferenceWorker) {
	t.Helper()
	r := NewReference(spec)
	for i, p := range spec.Params {
		if p.Init == "glorot_uniform" {
			for j := range r.Params()[i] {
				r.Params()[i][j] = 1
			}
		}
	}
	w := r.NewReferenceWorker()
	return w.Forward(x, false, 0), w
}

func refSeq(n int, start, step float32) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = start + step*float32(i)
	}
	return v
}

func refExpect(t *testing.T, what string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-5*math.Max(1, math.Abs(float64(want[i]))) {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}
}

func TestConvSameStride2ByHand(t *testing.T) {
	// 4x4 input 1..16, 3x3 ones, stride 2: out 2x2, padding 0 on top and
	// left, 1 on the bottom and right.
	spec := buildSpec([]int{4, 4, 1}, tConv(1, 3, 3, 2, 2, true, "linear"))
	if l := spec.Layers[1]; l.PadTop != 0 || l.PadLeft != 0 {
		t.Fatalf("pads = %d, %d, want 0, 0", l.PadTop, l.PadLeft)
	}
	out, _ := runLayer(t, spec, refSeq(16, 1, 1))
	refExpect(t, "even", out, []float32{54, 45, 72, 54})

	// 5x5 input 1..25: out 3x3 with one row and column of padding on each side.
	spec = buildSpec([]int{5, 5, 1}, tConv(1, 3, 3, 2, 2, true, "linear"))
	out, _ = runLayer(t, spec, refSeq(25, 1, 1))
	refExpect(t, "odd", out, []float32{
		1 + 2 + 6 + 7, 2 + 3 + 4 + 7 + 8 + 9, 4 + 5 + 9 + 10,
		6 + 7 + 11 + 12 + 16 + 17, 7 + 8 + 9 + 12 + 13 + 14 + 17 + 18 + 19, 9 + 10 + 14 + 15 + 19 + 20,
		16 + 17 + 21 + 22, 17 + 18 + 19 + 22 + 23 + 24, 19 + 20 + 24 + 25,
	})

	// A 2x2 kernel with stride 1 on 3x3 pads only the bottom and right.
	spec = buildSpec([]int{3, 3, 1}, tConv(1, 2, 2, 1, 1, true, "linear"))
	out, _ = runLayer(t, spec, refSeq(9, 1, 1))
	refExpect(t, "2x2", out, []float32{12, 16, 9, 24, 28, 15, 15, 17, 9})
}

func TestPoolingByHand(t *testing.T) {
	// Same padding ignores the padded cells: with negative inputs the max
	// is not 0, and the average divides by the valid cells only.
	spec := buildSpec([]int{3, 3, 1}, tPool("MaxPooling2D", 2, 2, 2, 2, true))
	out, _ := runLayer(t, spec, refSeq(9, -1, -1))
	refExpect(t, "max same", out, []float32{-1, -3, -7, -9})

	spec = buildSpec([]int{3, 3, 1}, tPool("AveragePooling2D", 2, 2, 2, 2, true))
	out, w := runLayer(t, spec, refSeq(9, 1, 1))
	refExpect(t, "average same", out, []float32{3, 4.5, 7.5, 9})
	w.Backward([]float32{4, 2, 2, 1}, nil)
	refExpect(t, "average same backward", w.InputGrad(), []float32{1, 1, 1, 1, 1, 1, 1, 1, 1})

	// count_include_pad divides by the whole window, as PyTorch's
	// avg_pool2d(padding=1) does: on 1..9 with one zero row and column on
	// every side, the 2x2 windows with stride 2 hold 1; 2+3; 4+7; 5+6+8+9.
	spec = buildSpec([]int{3, 3, 1}, countPad(padded(tPool("AveragePooling2D", 2, 2, 2, 2, false), 1, 1, 1, 1)))
	out, w = runLayer(t, spec, refSeq(9, 1, 1))
	refExpect(t, "average count pad", out, []float32{0.25, 1.25, 2.75, 7})
	w.Backward([]float32{4, 4, 4, 4}, nil)
	refExpect(t, "average count pad backward", w.InputGrad(), []float32{1, 1, 1, 1, 1, 1, 1, 1, 1})

	// Explicit padding on the top only shifts the windows; the max leaves
	// the padded cells out.
	spec = buildSpec([]int{3, 2, 1}, padded(tPool("MaxPooling2D", 2, 2, 2, 2, false), 1, 0, 0, 0))
	out, _ = runLayer(t, spec, refSeq(6, -1, -1))
	refExpect(t, "max explicit", out, []float32{-1, -3})

	// Valid pooling floors: 5x5 -> 2x2, dropping the last row and column.
	spec = buildSpec([]int{5, 5, 1}, tPool("MaxPooling2D", 2, 2, 2, 2, false))
	if got := spec.Layers[1].Out; got[0] != 2 || got[1] != 2 {
		t.Fatalf("out shape %v, want 2x2", got)
	}
	out, w = runLayer(t, spec, refSeq(25, 1, 1))
	refExpect(t, "max valid", out, []float32{7, 9, 17, 19})
	w.Backward([]float32{1, 2, 3, 4}, nil)
	want := make([]float32, 25)
	want[6], want[8], want[16], want[18] = 1, 2, 3, 4
	refExpect(t, "max valid backward", w.InputGrad(), want)

	// Ties go to the first maximal cell in row-major order.
	spec = buildSpec([]int{2, 2, 2}, tPool("MaxPooling2D", 2, 2, 2, 2, false))
	_, w = runLayer(t, spec, []float32{1, 5, 3, 5, 3, 5, 3, 5})
	w.Backward([]float32{1, 1}, nil)
	refExpect(t, "max tie backward", w.InputGrad(), []float32{0, 1, 1, 0, 0, 0, 0, 0})

	// Overlapping windows add their gradients.
	spec = buildSpec([]int{3, 3, 1}, tPool("MaxPooling2D", 2, 2, 1, 1, false))
	out, w = runLayer(t, spec, []float32{0, 0, 0, 0, 9, 0, 0, 0, 0})
	refExpect(t, "max overlap", out, []float32{9, 9, 9, 9})
	w.Backward([]float32{1, 1, 1, 1}, nil)
	refExpect(t, "max overlap backward", w.InputGrad(), []float32{0, 0, 0, 0, 4, 0, 0, 0, 0})
}

func TestFlattenAndRescaling(t *testing.T) {
	spec := buildSpec([]int{2, 2, 2}, tRescaling(2, -1), tFlatten())
	out, w := runLayer(t, spec, refSeq(8, 0, 1))
	refExpect(t, "rescaling", out, []float32{-1, 1, 3, 5, 7, 9, 11, 13})
	w.Backward(refSeq(8, 1, 0), nil)
	refExpect(t, "rescaling backward", w.InputGrad(), refSeq(8, 2, 0))
}

func TestDropoutInReference(t *testing.T) {
	spec := buildSpec([]int{64}, tDropout(0.25))
	w := NewReference(spec).NewWorker()
	x := refSeq(64, 1, 0)
	out := w.Forward(x, true, 77)
	mask := make([]float32, 64)
	rng := NewRNG(Derive(77, 1))
	DropoutMask(&rng, 0.25, mask)
	refExpect(t, "dropout", out, mask)
	out = w.Forward(x, false, 77)
	refExpect(t, "dropout inference", out, x)
}
