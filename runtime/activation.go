package runtime

import "math"

// This file holds the activations. The reference interpreter computes in
// float32 (the contract's precision) or float64 (for finite-difference
// checks), so the kernels are generic over both.

// float is the element type of the reference interpreter's tensors.
type float interface{ ~float32 | ~float64 }

// Activate applies the activation act ("linear", "relu", "sigmoid", "tanh"
// or "softmax") to z and writes the result into out, which must be as long
// as z and may be z itself. Softmax normalizes over the whole slice, in the
// stable form exp(z-max)/sum; for a spatial output, call it once per
// position with that position's channels. An unknown act is treated as
// "linear". Activate is what predict applies to the head's output.
func Activate(act string, z, out []float32) {
	activate(act, z, out)
}

// activate is Activate for either precision. Intermediate values are
// computed in float64 and rounded once.
func activate[T float](act string, z, out []T) {
	out = out[:len(z)]
	switch act {
	case "relu":
		for i, v := range z {
			if v > 0 {
				out[i] = v
			} else {
				out[i] = 0
			}
		}
	case "sigmoid":
		for i, v := range z {
			out[i] = T(sigmoid(float64(v)))
		}
	case "tanh":
		for i, v := range z {
			out[i] = T(math.Tanh(float64(v)))
		}
	case "softmax":
		softmax(z, out)
	default:
		copy(out, z)
	}
}

// sigmoid is the logistic function, computed without overflow for large
// negative x.
func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// softmax writes the softmax of z into out (which may alias z), subtracting
// the maximum first so that large logits do not overflow.
func softmax[T float](z, out []T) {
	if len(z) == 0 {
		return
	}
	m := float64(z[0])
	for _, v := range z[1:] {
		m = math.Max(m, float64(v))
	}
	var s float64
	for i, v := range z {
		e := math.Exp(float64(v) - m)
		out[i] = T(e)
		s += e
	}
	for i := range out[:len(z)] {
		out[i] = T(float64(out[i]) / s)
	}
}

// activationBackward turns dy, the gradient with respect to y = act(z),
// into the gradient with respect to z, in place. It needs only y, which the
// reference keeps. Softmax is applied over consecutive groups of group
// elements (the channels of each position). ReLU passes the gradient where
// y > 0.
func activationBackward[T float](act string, group int, y, dy []T) {
	switch act {
	case "relu":
		for i := range dy {
			if !(y[i] > 0) {
				dy[i] = 0
			}
		}
	case "sigmoid":
		for i := range dy {
			dy[i] *= y[i] * (1 - y[i])
		}
	case "tanh":
		for i := range dy {
			dy[i] *= 1 - y[i]*y[i]
		}
	case "softmax":
		if group <= 0 {
			group = len(dy)
		}
		for g := 0; g+group <= len(dy); g += group {
			yy, dd := y[g:g+group], dy[g:g+group]
			var dot T
			for i := range dd {
				dot += dd[i] * yy[i]
			}
			for i := range dd {
				dd[i] = yy[i] * (dd[i] - dot)
			}
		}
	}
}

// Softmax writes the softmax of z into out (which may alias z), as
// Activate("softmax", z, out) does. It is not generic, so that generated
// kernels can pass slices of arrays on their stack without the arrays
// escaping to the heap: a hidden softmax layer allocates nothing.
func Softmax(z, out []float32) {
	if len(z) == 0 {
		return
	}
	out = out[:len(z)]
	m := float64(z[0])
	for _, v := range z[1:] {
		m = math.Max(m, float64(v))
	}
	var s float64
	for i, v := range z {
		e := math.Exp(float64(v) - m)
		out[i] = float32(e)
		s += e
	}
	for i := range out {
		out[i] = float32(float64(out[i]) / s)
	}
}

// Tanh writes tanh(src[i]) into dst[i] (dst may alias src), in float32
// with Eigen's rational approximation: x·p(x²)/q(x²) on x clamped to
// ±7.9053, where tanh is 1 in float32. It is several times faster than
// math.Tanh in float64, and within 5e-7 of it (3e-7 measured)
// (TestFastActivations). Generated kernels use it; the reference
// interpreter keeps math.Tanh.
func Tanh(dst, src []float32) {
	dst = dst[:len(src)]
	n := tanhVector(dst, src, false)
	for i := n; i < len(src); i++ {
		dst[i] = tanh32(src[i])
	}
}

// Sigmoid writes 1/(1+exp(-src[i])) into dst[i] (dst may alias src), as
// 0.5 + 0.5·tanh(x/2) with Tanh's approximation, within 3e-7 of math.
func Sigmoid(dst, src []float32) {
	dst = dst[:len(src)]
	n := tanhVector(dst, src, true)
	for i := n; i < len(src); i++ {
		dst[i] = 0.5 + 0.5*tanh32(0.5*src[i])
	}
}

// Eigen's rational approximation of tanh: x·p(x²)/q(x²) on x clamped to
// ±tanhClamp, with p's and q's coefficients from the highest power down.
// tanh32 and the vector code (tanhVector) share them.
const tanhClamp = 7.90531110763549805

var (
	tanhP = [7]float32{-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11,
		5.12229709037114e-08, 1.48572235717979e-05, 6.37261928875436e-04, 4.89352455891786e-03}
	tanhQ = [4]float32{1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03}
)

// tanh32 is Tanh's approximation of one value.
func tanh32(x float32) float32 {
	x = min(max(x, -tanhClamp), tanhClamp)
	if x != x { // NaN stays NaN
		return x
	}
	x2 := x * x
	p := tanhP[0]
	for _, c := range tanhP[1:] {
		p = p*x2 + c
	}
	q := tanhQ[0]
	for _, c := range tanhQ[1:] {
		q = q*x2 + c
	}
	return x * p / q
}
