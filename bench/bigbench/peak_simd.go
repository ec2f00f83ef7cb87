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
		var a [10]archsimd.Float32x16
		n := 0
		t0 := time.Now()
		for time.Since(t0) < 300*time.Millisecond {
			for range 4096 {
				a[0], a[1], a[2], a[3], a[4] = x.MulAdd(y, a[0]), x.MulAdd(y, a[1]), x.MulAdd(y, a[2]), x.MulAdd(y, a[3]), x.MulAdd(y, a[4])
				a[5], a[6], a[7], a[8], a[9] = x.MulAdd(y, a[5]), x.MulAdd(y, a[6]), x.MulAdd(y, a[7]), x.MulAdd(y, a[8]), x.MulAdd(y, a[9])
			}
			n += 4096
		}
		sink16 = a[0].Add(a[9])
		archsimd.ClearAVXUpperBits()
		return float64(n) * 10 * 32 / time.Since(t0).Seconds() / 1e9
	}
	x := archsimd.BroadcastFloat32x8(1.0000001)
	y := archsimd.BroadcastFloat32x8(0.9999999)
	var a [10]archsimd.Float32x8
	n := 0
	t0 := time.Now()
	for time.Since(t0) < 300*time.Millisecond {
		for range 4096 {
			a[0], a[1], a[2], a[3], a[4] = x.MulAdd(y, a[0]), x.MulAdd(y, a[1]), x.MulAdd(y, a[2]), x.MulAdd(y, a[3]), x.MulAdd(y, a[4])
			a[5], a[6], a[7], a[8], a[9] = x.MulAdd(y, a[5]), x.MulAdd(y, a[6]), x.MulAdd(y, a[7]), x.MulAdd(y, a[8]), x.MulAdd(y, a[9])
		}
		n += 4096
	}
	sink8 = a[0].Add(a[9])
	archsimd.ClearAVXUpperBits()
	return float64(n) * 10 * 16 / time.Since(t0).Seconds() / 1e9
}

var (
	sink16 archsimd.Float32x16
	sink8  archsimd.Float32x8
)
