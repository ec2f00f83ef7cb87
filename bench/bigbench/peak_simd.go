//go:build goexperiment.simd && amd64

package bigbench

import (
	"simd/archsimd"
	"time"
)

// FMACeiling measures one core's multiply-add ceiling in GFLOP/s with the
// widest vectors the tiled kernels use on this CPU: 10 independent
// Float32x16 chains with AVX-512, Float32x8 with AVX2 only.
func FMACeiling() float64 {
	if archsimd.X86.AVX512() {
		x := archsimd.BroadcastFloat32x16(1.0000001)
		y := archsimd.BroadcastFloat32x16(0.9999999)
		var a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 archsimd.Float32x16
		n := 0
		t0 := time.Now()
		for time.Since(t0) < 300*time.Millisecond {
			for range 4096 {
				a0, a1, a2, a3, a4 = x.MulAdd(y, a0), x.MulAdd(y, a1), x.MulAdd(y, a2), x.MulAdd(y, a3), x.MulAdd(y, a4)
				a5, a6, a7, a8, a9 = x.MulAdd(y, a5), x.MulAdd(y, a6), x.MulAdd(y, a7), x.MulAdd(y, a8), x.MulAdd(y, a9)
			}
			n += 4096
		}
		sink16 = a0.Add(a1).Add(a2).Add(a3).Add(a4).Add(a5).Add(a6).Add(a7).Add(a8).Add(a9)
		archsimd.ClearAVXUpperBits()
		return float64(n) * 10 * 32 / time.Since(t0).Seconds() / 1e9
	}
	x := archsimd.BroadcastFloat32x8(1.0000001)
	y := archsimd.BroadcastFloat32x8(0.9999999)
	var a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 archsimd.Float32x8
	n := 0
	t0 := time.Now()
	for time.Since(t0) < 300*time.Millisecond {
		for range 4096 {
			a0, a1, a2, a3, a4 = x.MulAdd(y, a0), x.MulAdd(y, a1), x.MulAdd(y, a2), x.MulAdd(y, a3), x.MulAdd(y, a4)
			a5, a6, a7, a8, a9 = x.MulAdd(y, a5), x.MulAdd(y, a6), x.MulAdd(y, a7), x.MulAdd(y, a8), x.MulAdd(y, a9)
		}
		n += 4096
	}
	sink8 = a0.Add(a1).Add(a2).Add(a3).Add(a4).Add(a5).Add(a6).Add(a7).Add(a8).Add(a9)
	archsimd.ClearAVXUpperBits()
	return float64(n) * 10 * 16 / time.Since(t0).Seconds() / 1e9
}

var (
	sink16 archsimd.Float32x16
	sink8  archsimd.Float32x8
)
