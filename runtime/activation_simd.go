//go:build goexperiment.simd && amd64

package runtime

import "simd/archsimd"

var hasAVX2 = archsimd.X86.AVX2()

// tanhVector computes Tanh (or, with sigmoid, Sigmoid) of src into dst 8
// floats at a time with AVX2, with the operations of tanh32 in its order
// (no fused multiply-adds), so the bits equal the scalar code's. It
// returns how many floats it did; the caller does the rest.
func tanhVector(dst, src []float32, sigmoid bool) int {
	if !hasAVX2 {
		return 0
	}
	n := len(src) &^ 7
	half := archsimd.BroadcastFloat32x8(0.5)
	lo, hi := archsimd.BroadcastFloat32x8(-tanhClamp), archsimd.BroadcastFloat32x8(tanhClamp)
	p13, p11, p9, p7 := archsimd.BroadcastFloat32x8(tanhP[0]), archsimd.BroadcastFloat32x8(tanhP[1]), archsimd.BroadcastFloat32x8(tanhP[2]), archsimd.BroadcastFloat32x8(tanhP[3])
	p5, p3, p1 := archsimd.BroadcastFloat32x8(tanhP[4]), archsimd.BroadcastFloat32x8(tanhP[5]), archsimd.BroadcastFloat32x8(tanhP[6])
	q6, q4, q2, q0 := archsimd.BroadcastFloat32x8(tanhQ[0]), archsimd.BroadcastFloat32x8(tanhQ[1]), archsimd.BroadcastFloat32x8(tanhQ[2]), archsimd.BroadcastFloat32x8(tanhQ[3])
	for i := 0; i < n; i += 8 {
		x := archsimd.LoadFloat32x8((*[8]float32)(src[i : i+8]))
		if sigmoid {
			x = x.Mul(half)
		}
		// max(x, lo) then min(., hi), with x the operand that a NaN comes
		// through (the instructions return their second operand).
		x = lo.Max(x)
		x = hi.Min(x)
		x2 := x.Mul(x)
		p := p13.Mul(x2).Add(p11)
		p = p.Mul(x2).Add(p9)
		p = p.Mul(x2).Add(p7)
		p = p.Mul(x2).Add(p5)
		p = p.Mul(x2).Add(p3)
		p = p.Mul(x2).Add(p1)
		q := q6.Mul(x2).Add(q4)
		q = q.Mul(x2).Add(q2)
		q = q.Mul(x2).Add(q0)
		y := x.Mul(p).Div(q)
		if sigmoid {
			y = half.Add(half.Mul(y))
		}
		y.Store((*[8]float32)(dst[i : i+8]))
	}
	archsimd.ClearAVXUpperBits()
	return n
}
