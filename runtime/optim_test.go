package runtime

import (
	"math"
	"testing"
)

// stepTwice runs two steps with gradients 0.5 then -0.25 on a weight that
// starts at 1, next to a frozen weight, and returns the weight after each.
func stepTwice(t *testing.T, o Optimizer) [2]float64 {
	t.Helper()
	spec := &Spec{Params: []ParamSpec{{Name: "d/kernel", Shape: []int{1}, Trainable: true}, {Name: "d/bias", Shape: []int{1}}}}
	opt, err := NewOptimizer(o, spec)
	if err != nil {
		t.Fatal(err)
	}
	params := [][]float32{{1}, {7}}
	var got [2]float64
	for i, g := range []float32{0.5, -0.25} {
		opt.Step(params, [][]float32{{g}, nil})
		got[i] = float64(params[0][0])
	}
	if params[1][0] != 7 {
		t.Errorf("%s changed a frozen parameter to %g", o.Name, params[1][0])
	}
	return got
}

func TestOptimizersByHand(t *testing.T) {
	// The expected values are the formulas evaluated in float64:
	// RMSprop: v = 0.9v + 0.1g^2, w -= 0.1g/sqrt(v+1e-7): v1 = 0.025,
	// w1 = 1 - 0.05/sqrt(0.0250001) = 0.68377287; v2 = 0.02875,
	// w2 = w1 + 0.025/sqrt(0.0287501) = 0.83121457.
	cases := []struct {
		o    Optimizer
		want [2]float64
	}{
		{Optimizer{Name: "rmsprop", LearningRate: 0.1, Rho: 0.9, Epsilon: 1e-7}, [2]float64{0.6837728664367967, 0.8312145661715694}},
		// m = 0.5m + 0.1g/sqrt(v+eps), w -= m.
		{Optimizer{Name: "rmsprop", LearningRate: 0.1, Rho: 0.9, Momentum: 0.5, Epsilon: 1e-7}, [2]float64{0.6837728664367967, 0.6731009993899677}},
		// m1 = 0.05, v1 = 0.00025, alpha1 = 0.1*sqrt(0.001)/0.1;
		// w1 = 1 - alpha1*0.05/(sqrt(0.00025)+1e-7) = 0.90000063.
		{Optimizer{Name: "adam", LearningRate: 0.1, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}, [2]float64{0.900000632451532, 0.8733670792079218}},
		// m = 0.9m - 0.1g, w += m: m1 = -0.05, m2 = -0.045+0.025 = -0.02.
		{Optimizer{Name: "sgd", LearningRate: 0.1, Momentum: 0.9}, [2]float64{0.95, 0.93}},
		// w -= 0.1g.
		{Optimizer{Name: "sgd", LearningRate: 0.1}, [2]float64{0.95, 0.975}},
	}
	for _, c := range cases {
		got := stepTwice(t, c.o)
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 2e-7 {
				t.Errorf("%+v step %d: w = %.9g, want %.9g", c.o, i+1, got[i], c.want[i])
			}
		}
	}
}

func TestOptimizerState(t *testing.T) {
	spec := &Spec{Params: []ParamSpec{{Name: "d/kernel", Shape: []int{2, 3}, Trainable: true}, {Name: "d/bias", Shape: []int{3}, Trainable: true}}}
	for _, c := range []struct {
		o     Optimizer
		names []string
	}{
		{Optimizer{Name: "rmsprop", LearningRate: 0.001, Rho: 0.9, Epsilon: 1e-7},
			[]string{"optimizer/d/kernel/velocity", "optimizer/d/bias/velocity"}},
		{Optimizer{Name: "adam", LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7},
			[]string{"optimizer/d/kernel/m", "optimizer/d/bias/m", "optimizer/d/kernel/v", "optimizer/d/bias/v", "optimizer/iterations"}},
		{Optimizer{Name: "sgd", LearningRate: 0.01}, nil},
	} {
		opt, err := NewOptimizer(c.o, spec)
		if err != nil {
			t.Fatal(err)
		}
		st := opt.State()
		if len(st) != len(c.names) {
			t.Fatalf("%s: %d state tensors, want %d", c.o.Name, len(st), len(c.names))
		}
		for i, nt := range st {
			if nt.Name != c.names[i] || len(nt.Data) != prod(nt.Shape) {
				t.Errorf("%s: state %d is %s %v with %d floats", c.o.Name, i, nt.Name, nt.Shape, len(nt.Data))
			}
		}
	}
	// Restoring Adam's state by copying into State reproduces the run.
	o := Optimizer{Name: "adam", LearningRate: 0.01, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}
	a, _ := NewOptimizer(o, spec)
	pa := [][]float32{{1, 2, 3, 4, 5, 6}, {1, 2, 3}}
	grads := [][]float32{{0.1, -0.2, 0.3, 0, 1, 2}, {3, 2, 1}}
	a.Step(pa, grads)
	b, _ := NewOptimizer(o, spec)
	for i, nt := range a.State() {
		copy(b.State()[i].Data, nt.Data)
	}
	pb := [][]float32{append([]float32(nil), pa[0]...), append([]float32(nil), pa[1]...)}
	a.Step(pa, grads)
	b.Step(pb, grads)
	for i := range pa {
		for j := range pa[i] {
			if pa[i][j] != pb[i][j] {
				t.Fatalf("restored Adam differs: %v vs %v", pa, pb)
			}
		}
	}
}

func TestNewOptimizerUnknown(t *testing.T) {
	if _, err := NewOptimizer(Optimizer{Name: "adagrad"}, &Spec{}); err == nil {
		t.Fatal("NewOptimizer(adagrad) succeeded")
	}
}

func TestOptimizerStepAllocs(t *testing.T) {
	spec := &Spec{Params: []ParamSpec{{Name: "d/kernel", Shape: []int{100}, Trainable: true}}}
	for _, name := range []string{"rmsprop", "adam", "sgd"} {
		opt, _ := NewOptimizer(Optimizer{Name: name, LearningRate: 0.01, Rho: 0.9, Momentum: 0.9, Epsilon: 1e-7, Beta1: 0.9, Beta2: 0.999}, spec)
		p, g := [][]float32{make([]float32, 100)}, [][]float32{make([]float32, 100)}
		if n := testing.AllocsPerRun(10, func() { opt.Step(p, g) }); n != 0 {
			t.Errorf("%s: %v allocations per step", name, n)
		}
	}
}
