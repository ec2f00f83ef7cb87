package runtime

import "math"

// This file holds the losses and the accuracy metric. A worker's Forward
// stops before the head activation, and LossGrad applies it together with
// the loss, so that the common pairs use their fused, stable forms.

// Epsilon is Keras's backend.epsilon(), the clipping bound of
// probabilities in cross-entropies that are not computed from logits.
const Epsilon = 1e-7

// LossGrad computes the loss of one sample from z, the network's output
// before the head activation head (Spec.HeadActivation()), and label. It
// writes dLoss/dz into dOut, which must be as long as z and must not overlap
// it, and returns the loss and the sample's accuracy.
//
// loss is "sparse_categorical_crossentropy" (label[0] is the class index as
// a float32), "categorical_crossentropy" (label holds len(z) class
// weights, usually one-hot) or "binary_crossentropy" (label holds len(z)
// targets in [0, 1]; the loss is the mean over the units, as in Keras).
//
// Like Keras, LossGrad uses the fused forms for outputs that come from a
// softmax or a sigmoid: softmax with a categorical cross-entropy gives
// logsumexp(z) - z_y (or sum_j t_j*(logsumexp(z) - z_j)) with gradient
// softmax(z)*sum(t) - t, unclipped; sigmoid with binary cross-entropy gives
// max(z,0) - z*y + log1p(exp(-|z|)) with gradient sigmoid(z) - y. Every
// other pair clips the probabilities p = head(z) as tf.keras's backend
// does, with zero gradient where the clip is active:
//
//   - sparse: -log(c_y) + log(sum_j c_j) with c = clip(p, Epsilon, 1-Epsilon),
//     because Keras feeds log(c) to a softmax cross-entropy;
//   - categorical: -sum_j t_j*log(clip(p_j/sum(p)));
//   - binary: mean over j of -(y*log(c+Epsilon) + (1-y)*log(1-c+Epsilon)).
//
// The accuracy is Keras's metric for the loss: argmax(p) == y (sparse),
// argmax(p) == argmax(t) (categorical), or the fraction of units with
// (p > 0.5) == (y > 0.5) (binary; with the sigmoid head, p > 0.5 is
// computed as z > 0). argmax takes the first maximum.
//
// LossGrad does not validate labels: the trainer checks datasets up front.
// It never panics on a bad label either: a sparse label that is not an
// integer in [0, len(z)), or a label slice that is too short, gives a NaN
// loss, a zero gradient and zero accuracy. An unknown loss is treated the
// same way.
func LossGrad(loss, head string, out, label, dOut []float32) (lossVal float64, correct float64) {
	return lossGrad(loss, head, out, label, dOut)
}

// LossGrad64 is LossGrad in float64, for gradient checks.
func LossGrad64(loss, head string, out, label, dOut []float64) (lossVal float64, correct float64) {
	return lossGrad(loss, head, out, label, dOut)
}

func lossGrad[T float](loss, head string, z, label, dz []T) (float64, float64) {
	n := len(z)
	dz = dz[:n]
	bad := func() (float64, float64) {
		clear(dz)
		return math.NaN(), 0
	}
	y := -1 // the sparse class
	switch loss {
	case "sparse_categorical_crossentropy":
		if len(label) < 1 {
			return bad()
		}
		v := float64(label[0])
		if !(v >= 0 && v < float64(n)) || v != math.Trunc(v) {
			return bad()
		}
		y = int(v)
	case "categorical_crossentropy", "binary_crossentropy":
		if len(label) < n {
			return bad()
		}
	default:
		return bad()
	}
	if n == 0 {
		return bad()
	}

	// m and s give the softmax of z: p_j = exp(z_j - m)/s.
	m := float64(z[0])
	for _, v := range z {
		m = math.Max(m, float64(v))
	}
	var s float64
	if head == "softmax" {
		for _, v := range z {
			s += math.Exp(float64(v) - m)
		}
	}
	p := func(j int) float64 {
		v := float64(z[j])
		switch head {
		case "softmax":
			return math.Exp(v-m) / s
		case "sigmoid":
			return sigmoid(v)
		case "tanh":
			return math.Tanh(v)
		case "relu":
			return math.Max(v, 0)
		}
		return v
	}

	// The fused forms.
	if head == "softmax" && loss != "binary_crossentropy" {
		lse := m + math.Log(s)
		if y >= 0 {
			for j := range dz {
				dz[j] = T(p(j))
			}
			dz[y] -= 1
			return lse - float64(z[y]), b2f(argmax(z) == y)
		}
		var l, tsum float64
		for j, v := range z {
			t := float64(label[j])
			l += t * (lse - float64(v))
			tsum += t
		}
		for j := range dz {
			dz[j] = T(p(j)*tsum - float64(label[j]))
		}
		return l, b2f(argmax(z) == argmax(label[:n]))
	}
	if head == "sigmoid" && loss == "binary_crossentropy" {
		var l, acc float64
		for j, v := range z {
			x, t := float64(v), float64(label[j])
			l += math.Max(x, 0) - x*t + math.Log1p(math.Exp(-math.Abs(x)))
			dz[j] = T((sigmoid(x) - t) / float64(n))
			acc += b2f((x > 0) == (t > 0.5))
		}
		return l / float64(n), acc / float64(n)
	}

	// The clipped forms. g(j) is dLoss/dp_j; it depends on p_j, the label
	// and the sums computed here.
	clip := func(v float64) (float64, float64) { // the clipped value and its derivative
		if v < Epsilon {
			return Epsilon, 0
		}
		if v > 1-Epsilon {
			return 1 - Epsilon, 0
		}
		return v, 1
	}
	var l, acc float64
	var g func(j int) float64
	switch loss {
	case "sparse_categorical_crossentropy":
		var sc float64
		for j := range z {
			c, _ := clip(p(j))
			sc += c
		}
		cy, _ := clip(p(y))
		l = -math.Log(cy) + math.Log(sc)
		g = func(j int) float64 {
			_, dc := clip(p(j))
			d := 1 / sc
			if j == y {
				d -= 1 / cy
			}
			return d * dc
		}
		acc = b2f(argmaxFunc(n, p) == y)
	case "categorical_crossentropy":
		var sp float64
		for j := range z {
			sp += p(j)
		}
		// a(j) is dLoss/dq_j with q = p/sum(p); A = sum_j a(j)*q_j.
		a := func(j int) float64 {
			c, dc := clip(p(j) / sp)
			return -float64(label[j]) / c * dc
		}
		var aq float64
		for j := range z {
			c, _ := clip(p(j) / sp)
			l -= float64(label[j]) * math.Log(c)
			aq += a(j) * p(j) / sp
		}
		g = func(j int) float64 { return (a(j) - aq) / sp }
		acc = b2f(argmaxFunc(n, p) == argmax(label[:n]))
	default: // binary_crossentropy
		for j := range z {
			c, _ := clip(p(j))
			t := float64(label[j])
			l -= t*math.Log(c+Epsilon) + (1-t)*math.Log(1-c+Epsilon)
			acc += b2f((p(j) > 0.5) == (t > 0.5))
		}
		l /= float64(n)
		acc /= float64(n)
		g = func(j int) float64 {
			c, dc := clip(p(j))
			t := float64(label[j])
			return (-t/(c+Epsilon) + (1-t)/(1-c+Epsilon)) * dc / float64(n)
		}
	}

	// Back through the head activation.
	var dot float64
	if head == "softmax" {
		for j := range z {
			dot += g(j) * p(j)
		}
	}
	for j := range dz {
		pj := p(j)
		var d float64
		switch head {
		case "softmax":
			d = pj * (g(j) - dot)
		case "sigmoid":
			d = g(j) * pj * (1 - pj)
		case "tanh":
			d = g(j) * (1 - pj*pj)
		case "relu":
			if pj > 0 {
				d = g(j)
			}
		default:
			d = g(j)
		}
		dz[j] = T(d)
	}
	return l, acc
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// argmax returns the index of the first maximum of v.
func argmax[T float](v []T) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}

// argmaxFunc returns the index of the first maximum of f over [0, n).
func argmaxFunc(n int, f func(int) float64) int {
	best, bv := 0, f(0)
	for i := 1; i < n; i++ {
		if v := f(i); v > bv {
			best, bv = i, v
		}
	}
	return best
}
