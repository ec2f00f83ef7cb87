package runtime

import "math"

// This file is the reference interpreter: it runs any Spec with naive,
// obviously correct loops. Generated kernels are tested against it. The
// same generic code runs in float32 (Reference, the contract's precision)
// and in float64 (ReferenceWorker64, for tight finite-difference checks).

var (
	_ Net    = (*Reference)(nil)
	_ Worker = (*ReferenceWorker)(nil)
)

// Reference is a Net that interprets its Spec. Its parameters start at
// zero; fill them with InitParams or by copying weights in.
type Reference struct {
	spec   *Spec
	params [][]float32
}

// NewReference returns a reference interpreter for spec with zeroed
// parameters shaped by spec.Params.
func NewReference(spec *Spec) *Reference {
	r := &Reference{spec: spec, params: make([][]float32, len(spec.Params))}
	for i, p := range spec.Params {
		r.params[i] = make([]float32, prod(p.Shape))
	}
	return r
}

// Spec returns the network's description.
func (r *Reference) Spec() *Spec { return r.spec }

// Params returns the parameters in the order of Spec().Params, in Keras's
// layouts.
func (r *Reference) Params() [][]float32 { return r.params }

// NewWorker returns a *ReferenceWorker that reads r's parameters.
func (r *Reference) NewWorker() Worker { return r.NewReferenceWorker() }

// NewReferenceWorker is NewWorker with the concrete type, which also
// exposes the input gradient.
func (r *Reference) NewReferenceWorker() *ReferenceWorker {
	return &ReferenceWorker{w: newRefWorker(r.spec, r.params)}
}

// ReferenceWorker is the reference interpreter's Worker, in float32.
type ReferenceWorker struct{ w *refWorker[float32] }

// Forward implements Worker.
func (w *ReferenceWorker) Forward(x []float32, training bool, seed uint64) []float32 {
	return w.w.forward(x, training, seed)
}

// Backward implements Worker.
func (w *ReferenceWorker) Backward(dOut []float32, grads [][]float32) {
	w.w.backward(dOut, grads)
}

// InputGrad returns the gradient of the loss with respect to the input of
// the last Forward, as computed by the last Backward. The slice belongs to
// the worker.
func (w *ReferenceWorker) InputGrad() []float32 { return w.w.dIn[0] }

// ReferenceWorker64 runs the reference interpreter in float64 with its own
// float64 parameters, so that finite-difference gradient checks can use
// tight tolerances. The random layers draw exactly as in float32.
type ReferenceWorker64 struct{ w *refWorker[float64] }

// NewReferenceWorker64 returns a float64 worker for spec that reads params
// (indexed like spec.Params, in Keras's layouts).
func NewReferenceWorker64(spec *Spec, params [][]float64) *ReferenceWorker64 {
	return &ReferenceWorker64{w: newRefWorker(spec, params)}
}

// Forward is Worker.Forward in float64.
func (w *ReferenceWorker64) Forward(x []float64, training bool, seed uint64) []float64 {
	return w.w.forward(x, training, seed)
}

// Backward is Worker.Backward in float64.
func (w *ReferenceWorker64) Backward(dOut []float64, grads [][]float64) {
	w.w.backward(dOut, grads)
}

// InputGrad returns the gradient with respect to the input of the last
// Forward, as computed by the last Backward.
func (w *ReferenceWorker64) InputGrad() []float64 { return w.w.dIn[0] }

// refWorker holds the activations of one sample. acts[i] is the output of
// layer i, and dIn[i] the gradient with respect to its input.
type refWorker[T float] struct {
	spec   *Spec
	params [][]T
	// kernel and bias are the parameter indexes of each layer, or -1.
	kernel, bias []int
	in           []T
	acts         [][]T
	dIn          [][]T
	dOut         []T // scratch for the gradient of the current layer's output
	masks        [][]float32
	aug          []AugmentState
	active       []bool // whether a random layer was active in the last Forward
}

func newRefWorker[T float](spec *Spec, params [][]T) *refWorker[T] {
	n := len(spec.Layers)
	w := &refWorker[T]{
		spec: spec, params: params,
		kernel: make([]int, n), bias: make([]int, n),
		acts: make([][]T, n), dIn: make([][]T, n),
		masks: make([][]float32, n), aug: make([]AugmentState, n),
		active: make([]bool, n),
	}
	byName := make(map[string]int, len(spec.Params))
	for i, p := range spec.Params {
		byName[p.Name] = i
	}
	big := 0
	for i := range spec.Layers {
		l := &spec.Layers[i]
		w.kernel[i], w.bias[i] = -1, -1
		if k, ok := byName[l.Name+"/kernel"]; ok {
			w.kernel[i] = k
		}
		if b, ok := byName[l.Name+"/bias"]; ok {
			w.bias[i] = b
		}
		w.acts[i] = make([]T, prod(l.Out))
		inSize := prod(l.Out)
		if i > 0 {
			inSize = prod(spec.Layers[i-1].Out)
		} else if len(l.In) > 0 {
			inSize = prod(l.In)
		}
		w.dIn[i] = make([]T, inSize)
		big = max(big, prod(l.Out), inSize)
		if l.Kind == "Dropout" {
			w.masks[i] = make([]float32, prod(l.Out))
		}
	}
	w.dOut = make([]T, big)
	return w
}

// head reports whether layer i's activation is left to the loss.
func (w *refWorker[T]) head(i int) bool {
	l := &w.spec.Layers[i]
	return i == len(w.spec.Layers)-1 && (l.Kind == "Dense" || l.Kind == "Conv2D")
}

func (w *refWorker[T]) forward(x []T, training bool, seed uint64) []T {
	w.in = x
	in := x
	for i := range w.spec.Layers {
		l := &w.spec.Layers[i]
		out := w.acts[i]
		w.active[i] = false
		switch l.Kind {
		case "Conv2D":
			convForward(l, in, w.param(w.kernel[i]), w.param(w.bias[i]), out)
		case "Dense":
			denseForward(l, in, w.param(w.kernel[i]), w.param(w.bias[i]), out)
		case "MaxPooling2D", "AveragePooling2D":
			poolForward(l, in, out)
		case "Rescaling":
			for j, v := range in {
				out[j] = v*T(l.Scale) + T(l.Offset)
			}
		case "PreprocessInput":
			pp, _ := PreprocessingOf(l.Mode)
			for j := 0; j < len(in); j += 3 {
				for c := range 3 {
					out[j+c] = (in[j+pp.Perm[c]]/T(pp.Div) - T(pp.Mean[c])) / T(pp.Std[c])
				}
			}
		case "Dropout":
			if training {
				rng := NewRNG(Derive(seed, uint64(i)))
				DropoutMask(&rng, l.Rate, w.masks[i])
				for j, v := range in {
					out[j] = v * T(w.masks[i][j])
				}
				w.active[i] = true
			} else {
				copy(out, in)
			}
		case "RandomFlip", "RandomRotation", "RandomZoom":
			if training {
				rng := NewRNG(Derive(seed, uint64(i)))
				w.aug[i] = DrawAugment(l, &rng)
				augmentApply(l, &w.aug[i], in, out)
				w.active[i] = true
			} else {
				copy(out, in)
			}
		default: // InputLayer, Flatten: identity on the data
			copy(out, in)
		}
		if (l.Kind == "Conv2D" || l.Kind == "Dense") && !w.head(i) {
			activateGroups(l.Activation, l.Out[len(l.Out)-1], out)
		}
		in = out
	}
	return w.acts[len(w.acts)-1]
}

func (w *refWorker[T]) param(i int) []T {
	if i < 0 {
		return nil
	}
	return w.params[i]
}

// grad returns grads[i], or nil when i < 0 or the parameter is frozen.
func grad[T float](grads [][]T, i int) []T {
	if i < 0 || i >= len(grads) {
		return nil
	}
	return grads[i]
}

func (w *refWorker[T]) backward(dOut []T, grads [][]T) {
	n := len(w.spec.Layers)
	d := w.dOut[:len(dOut)]
	copy(d, dOut)
	for i := n - 1; i >= 0; i-- {
		l := &w.spec.Layers[i]
		in := w.in
		if i > 0 {
			in = w.acts[i-1]
		}
		out := w.acts[i]
		dIn := w.dIn[i]
		if (l.Kind == "Conv2D" || l.Kind == "Dense") && !w.head(i) {
			activationBackward(l.Activation, l.Out[len(l.Out)-1], out, d)
		}
		switch l.Kind {
		case "Conv2D":
			convBackward(l, in, w.param(w.kernel[i]), d, dIn, grad(grads, w.kernel[i]), grad(grads, w.bias[i]))
		case "Dense":
			denseBackward(l, in, w.param(w.kernel[i]), d, dIn, grad(grads, w.kernel[i]), grad(grads, w.bias[i]))
		case "MaxPooling2D", "AveragePooling2D":
			poolBackward(l, in, d, dIn)
		case "Rescaling":
			for j, v := range d {
				dIn[j] = v * T(l.Scale)
			}
		case "PreprocessInput":
			pp, _ := PreprocessingOf(l.Mode)
			for j := 0; j < len(d); j += 3 {
				for c := range 3 {
					dIn[j+pp.Perm[c]] = d[j+c] / T(pp.Std[c]) / T(pp.Div)
				}
			}
		case "Dropout":
			if w.active[i] {
				for j, v := range d {
					dIn[j] = v * T(w.masks[i][j])
				}
			} else {
				copy(dIn, d)
			}
		case "RandomFlip", "RandomRotation", "RandomZoom":
			if w.active[i] {
				augmentApplyBackward(l, &w.aug[i], d, dIn)
			} else {
				copy(dIn, d)
			}
		default:
			copy(dIn, d)
		}
		d = w.dOut[:len(dIn)]
		copy(d, dIn)
	}
}

// activateGroups applies act to out in place; softmax normalizes each run
// of group elements (the channels of one position, or all units).
func activateGroups[T float](act string, group int, out []T) {
	if act != "softmax" {
		activate(act, out, out)
		return
	}
	for g := 0; g+group <= len(out); g += group {
		softmax(out[g:g+group], out[g:g+group])
	}
}

// convForward computes a Conv2D: out[oy,ox,co] = bias[co] +
// sum over ky,kx,ci of in[oy*SH+ky-PadTop, ox*SW+kx-PadLeft, ci] *
// kernel[ky,kx,ci,co], reading zero outside the input.
func convForward[T float](l *Layer, in, kernel, bias, out []T) {
	H, W, C := l.In[0], l.In[1], l.In[2]
	OH, OW, F := l.Out[0], l.Out[1], l.Out[2]
	for oy := 0; oy < OH; oy++ {
		for ox := 0; ox < OW; ox++ {
			for co := 0; co < F; co++ {
				var s T
				if bias != nil {
					s = bias[co]
				}
				for ky := 0; ky < l.KH; ky++ {
					iy := oy*l.SH + ky - l.PadTop
					if iy < 0 || iy >= H {
						continue
					}
					for kx := 0; kx < l.KW; kx++ {
						ix := ox*l.SW + kx - l.PadLeft
						if ix < 0 || ix >= W {
							continue
						}
						for ci := 0; ci < C; ci++ {
							s += in[(iy*W+ix)*C+ci] * kernel[((ky*l.KW+kx)*C+ci)*F+co]
						}
					}
				}
				out[(oy*OW+ox)*F+co] = s
			}
		}
	}
}

// convBackward writes the input gradient of a Conv2D into dIn and adds the
// kernel and bias gradients into dK and dB (either may be nil).
func convBackward[T float](l *Layer, in, kernel, dOut, dIn, dK, dB []T) {
	H, W, C := l.In[0], l.In[1], l.In[2]
	OH, OW, F := l.Out[0], l.Out[1], l.Out[2]
	clear(dIn)
	for oy := 0; oy < OH; oy++ {
		for ox := 0; ox < OW; ox++ {
			for co := 0; co < F; co++ {
				g := dOut[(oy*OW+ox)*F+co]
				if dB != nil {
					dB[co] += g
				}
				for ky := 0; ky < l.KH; ky++ {
					iy := oy*l.SH + ky - l.PadTop
					if iy < 0 || iy >= H {
						continue
					}
					for kx := 0; kx < l.KW; kx++ {
						ix := ox*l.SW + kx - l.PadLeft
						if ix < 0 || ix >= W {
							continue
						}
						for ci := 0; ci < C; ci++ {
							k := ((ky*l.KW+kx)*C+ci)*F + co
							x := (iy*W+ix)*C + ci
							dIn[x] += g * kernel[k]
							if dK != nil {
								dK[k] += g * in[x]
							}
						}
					}
				}
			}
		}
	}
}

// denseForward computes out[u] = bias[u] + sum over i of in[i]*kernel[i,u].
func denseForward[T float](l *Layer, in, kernel, bias, out []T) {
	U := len(out)
	for u := range out {
		var s T
		if bias != nil {
			s = bias[u]
		}
		for i, v := range in {
			s += v * kernel[i*U+u]
		}
		out[u] = s
	}
}

// denseBackward writes the input gradient of a Dense layer into dIn and
// adds the kernel and bias gradients into dK and dB (either may be nil).
func denseBackward[T float](l *Layer, in, kernel, dOut, dIn, dK, dB []T) {
	U := len(dOut)
	for i := range dIn {
		var s T
		for u, g := range dOut {
			s += g * kernel[i*U+u]
		}
		dIn[i] = s
	}
	if dK != nil {
		for i, v := range in {
			for u, g := range dOut {
				dK[i*U+u] += v * g
			}
		}
	}
	if dB != nil {
		for u, g := range dOut {
			dB[u] += g
		}
	}
}

// poolWindow calls f for each valid input cell (iy, ix) of the pooling
// window of output (oy, ox), in row-major scan order. Padded cells are
// skipped, as TensorFlow ignores them.
func poolWindow(l *Layer, oy, ox int, f func(iy, ix int)) {
	H, W := l.In[0], l.In[1]
	for ky := 0; ky < l.KH; ky++ {
		iy := oy*l.SH + ky - l.PadTop
		if iy < 0 || iy >= H {
			continue
		}
		for kx := 0; kx < l.KW; kx++ {
			ix := ox*l.SW + kx - l.PadLeft
			if ix < 0 || ix >= W {
				continue
			}
			f(iy, ix)
		}
	}
}

// poolArgmax returns the input index of the first maximal valid cell of a
// max-pooling window for channel c, or -1 if the window has no valid cell.
func poolArgmax[T float](l *Layer, in []T, oy, ox, c int) int {
	W, C := l.In[1], l.In[2]
	best, arg := T(math.Inf(-1)), -1
	poolWindow(l, oy, ox, func(iy, ix int) {
		x := (iy*W+ix)*C + c
		if arg < 0 || in[x] > best {
			best, arg = in[x], x
		}
	})
	return arg
}

// poolForward computes MaxPooling2D (maximum of the valid cells) or
// AveragePooling2D (their mean, dividing by the number of valid cells, or
// by the whole window with CountIncludePad).
func poolForward[T float](l *Layer, in, out []T) {
	W, C := l.In[1], l.In[2]
	OH, OW := l.Out[0], l.Out[1]
	for oy := 0; oy < OH; oy++ {
		for ox := 0; ox < OW; ox++ {
			for c := 0; c < C; c++ {
				o := &out[(oy*OW+ox)*C+c]
				if l.Kind == "MaxPooling2D" {
					*o = 0
					if a := poolArgmax(l, in, oy, ox, c); a >= 0 {
						*o = in[a]
					}
					continue
				}
				var s T
				n := 0
				poolWindow(l, oy, ox, func(iy, ix int) {
					s += in[(iy*W+ix)*C+c]
					n++
				})
				if l.CountIncludePad {
					n = l.KH * l.KW
				}
				*o = 0
				if n > 0 {
					*o = s / T(n)
				}
			}
		}
	}
}

// poolBackward writes the input gradient of a pooling layer into dIn: max
// pooling routes each output's gradient to the first maximal cell of its
// window, and average pooling spreads it evenly over the valid cells.
func poolBackward[T float](l *Layer, in, dOut, dIn []T) {
	W, C := l.In[1], l.In[2]
	OH, OW := l.Out[0], l.Out[1]
	clear(dIn)
	for oy := 0; oy < OH; oy++ {
		for ox := 0; ox < OW; ox++ {
			for c := 0; c < C; c++ {
				g := dOut[(oy*OW+ox)*C+c]
				if l.Kind == "MaxPooling2D" {
					if a := poolArgmax(l, in, oy, ox, c); a >= 0 {
						dIn[a] += g
					}
					continue
				}
				n := 0
				poolWindow(l, oy, ox, func(int, int) { n++ })
				if n > 0 && l.CountIncludePad {
					n = l.KH * l.KW
				}
				if n == 0 {
					continue
				}
				g /= T(n)
				poolWindow(l, oy, ox, func(iy, ix int) { dIn[(iy*W+ix)*C+c] += g })
			}
		}
	}
}
