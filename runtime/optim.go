package runtime

import (
	"fmt"
	"math"
)

// This file holds the optimizers, with the update rules of Keras 2.11 and
// later, computed element by element in float32. Every product is rounded
// explicitly (float32(a*b)) so that no platform fuses it into a
// multiply-add, which keeps updates bit-identical across architectures.

// Opt is an optimizer with its state. (The name Optimizer is taken by the
// optimizer's configuration in the Spec.)
type Opt interface {
	// Step applies one update to params given the batch's gradients,
	// both indexed like Spec.Params. Parameters whose grads[i] is nil
	// (frozen) are left alone, but the step still counts.
	Step(params, grads [][]float32)
	// State returns the optimizer's state for checkpoints. The Data slices
	// alias the state, so copying saved values into them restores it.
	State() []NamedTensor
}

// NewOptimizer returns the optimizer o describes ("rmsprop", "adam" or
// "sgd") for the parameters of spec, with zeroed state.
func NewOptimizer(o Optimizer, spec *Spec) (Opt, error) {
	slots := func(slot string) ([][]float32, []NamedTensor) {
		s := make([][]float32, len(spec.Params))
		var nt []NamedTensor
		for i, p := range spec.Params {
			if !p.Trainable {
				// A frozen parameter gets no gradient and no state.
				continue
			}
			s[i] = make([]float32, prod(p.Shape))
			nt = append(nt, NamedTensor{Name: "optimizer/" + p.Name + "/" + slot, Shape: append([]int(nil), p.Shape...), Data: s[i]})
		}
		return s, nt
	}
	switch o.Name {
	case "rmsprop":
		r := &RMSprop{LearningRate: o.LearningRate, Rho: o.Rho, Momentum: o.Momentum, Epsilon: o.Epsilon}
		r.velocity, r.state = slots("velocity")
		if o.Momentum > 0 {
			var nt []NamedTensor
			r.momentum, nt = slots("momentum")
			r.state = append(r.state, nt...)
		}
		return r, nil
	case "adam":
		a := &Adam{LearningRate: o.LearningRate, Beta1: o.Beta1, Beta2: o.Beta2, Epsilon: o.Epsilon, iterations: make([]float32, 1)}
		var nt []NamedTensor
		a.m, a.state = slots("m")
		a.v, nt = slots("v")
		a.state = append(a.state, nt...)
		a.state = append(a.state, NamedTensor{Name: "optimizer/iterations", Shape: []int{}, Data: a.iterations})
		return a, nil
	case "sgd":
		s := &SGD{LearningRate: o.LearningRate, Momentum: o.Momentum}
		if o.Momentum > 0 {
			s.momentum, s.state = slots("momentum")
		}
		return s, nil
	}
	return nil, fmt.Errorf("unknown optimizer %q; want rmsprop, adam or sgd", o.Name)
}

// sqrt32 is the correctly rounded float32 square root.
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }

// partOpt is an optimizer whose update is elementwise, so that the
// trainer's workers apply it to disjoint parts of every parameter, each
// right after reducing that part's gradient. begin runs once per step,
// before the parts.
type partOpt interface {
	begin()
	stepPart(params, grads [][]float32, part, parts int)
}

// partRange returns part part of parts of n elements, in order.
func partRange(n, part, parts int) (lo, hi int) {
	chunk := (n + parts - 1) / parts
	return min(part*chunk, n), min((part+1)*chunk, n)
}

// RMSprop is Keras's RMSprop (not centered): v = rho*v + (1-rho)*g^2, then
// w -= lr*g/sqrt(v+eps), or with momentum m = momentum*m + lr*g/sqrt(v+eps)
// and w -= m. The epsilon is inside the square root, as in Keras 2.11 and
// later (the legacy optimizer had it outside).
type RMSprop struct {
	LearningRate, Rho, Momentum, Epsilon float32

	velocity, momentum [][]float32
	state              []NamedTensor
}

// Step implements Opt.
func (o *RMSprop) Step(params, grads [][]float32) { o.stepPart(params, grads, 0, 1) }

func (o *RMSprop) begin() {}

func (o *RMSprop) stepPart(params, grads [][]float32, part, parts int) {
	lr, rho, eps := o.LearningRate, o.Rho, o.Epsilon
	for i, g := range grads {
		if g == nil {
			continue
		}
		lo, hi := partRange(len(g), part, parts)
		g = g[lo:hi]
		w, v := params[i][lo:hi], o.velocity[i][lo:hi]
		for j, gj := range g {
			v[j] = float32(rho*v[j]) + float32((1-rho)*float32(gj*gj))
			inc := float32(lr*gj) / sqrt32(v[j]+eps)
			if o.momentum != nil {
				m := o.momentum[i][lo:hi]
				m[j] = float32(o.Momentum*m[j]) + inc
				w[j] -= m[j]
			} else {
				w[j] -= inc
			}
		}
	}
}

// State implements Opt: the velocity of each parameter, then its momentum
// when Momentum > 0.
func (o *RMSprop) State() []NamedTensor { return o.state }

// Adam is Keras's Adam (without amsgrad): with t the step number from 1,
// m += (g-m)*(1-beta1), v += (g^2-v)*(1-beta2),
// alpha = lr*sqrt(1-beta2^t)/(1-beta1^t), and w -= m*alpha/(sqrt(v)+eps).
type Adam struct {
	LearningRate, Beta1, Beta2, Epsilon float32

	m, v [][]float32
	// iterations counts the steps taken, in float32 (exact up to 2^24) so
	// that State can alias it.
	iterations []float32
	state      []NamedTensor
	// alpha is the step size of the current step.
	alpha float32
}

// Step implements Opt.
func (o *Adam) Step(params, grads [][]float32) {
	o.begin()
	o.stepPart(params, grads, 0, 1)
}

// begin counts the step and computes its step size.
func (o *Adam) begin() {
	o.iterations[0]++
	t := float64(o.iterations[0])
	b1p := float32(math.Pow(float64(o.Beta1), t))
	b2p := float32(math.Pow(float64(o.Beta2), t))
	o.alpha = float32(o.LearningRate*sqrt32(1-b2p)) / (1 - b1p)
}

func (o *Adam) stepPart(params, grads [][]float32, part, parts int) {
	alpha := o.alpha
	c1, c2 := 1-o.Beta1, 1-o.Beta2
	for i, g := range grads {
		if g == nil {
			continue
		}
		lo, hi := partRange(len(g), part, parts)
		g = g[lo:hi]
		w, m, v := params[i][lo:hi], o.m[i][lo:hi], o.v[i][lo:hi]
		for j, gj := range g {
			m[j] += float32((gj - m[j]) * c1)
			v[j] += float32((float32(gj*gj) - v[j]) * c2)
			w[j] -= float32(m[j]*alpha) / (sqrt32(v[j]) + o.Epsilon)
		}
	}
}

// State implements Opt: the first moments, the second moments, and a
// scalar "optimizer/iterations".
func (o *Adam) State() []NamedTensor { return o.state }

// SGD is Keras's SGD (without Nesterov): w -= lr*g, or with momentum
// m = momentum*m - lr*g and w += m.
type SGD struct {
	LearningRate, Momentum float32

	momentum [][]float32
	state    []NamedTensor
}

// Step implements Opt.
func (o *SGD) Step(params, grads [][]float32) { o.stepPart(params, grads, 0, 1) }

func (o *SGD) begin() {}

func (o *SGD) stepPart(params, grads [][]float32, part, parts int) {
	lr := o.LearningRate
	for i, g := range grads {
		if g == nil {
			continue
		}
		lo, hi := partRange(len(g), part, parts)
		g = g[lo:hi]
		w := params[i][lo:hi]
		if o.momentum == nil {
			for j, gj := range g {
				w[j] -= float32(gj * lr)
			}
			continue
		}
		m := o.momentum[i][lo:hi]
		for j, gj := range g {
			m[j] = float32(m[j]*o.Momentum) - float32(gj*lr)
			w[j] += m[j]
		}
	}
}

// State implements Opt: the momentum of each parameter when Momentum > 0,
// and nothing otherwise.
func (o *SGD) State() []NamedTensor { return o.state }
