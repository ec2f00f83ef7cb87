//go:build goexperiment.simd && amd64

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"simd/archsimd"
	"testing"
	"unsafe"
)

func TestConvTiledMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 80 {
		p := randomPlan(r)
		if n%4 == 3 {
			// A first layer: channels not in fours, widened to CiPad.
			p.Ci = []int{1, 2, 3, 5, 7}[r.IntN(5)]
			p.CiPad = (p.Ci + 3) / 4 * 4
			p.Chunk = p.CiPad
		}
		if n%4 == 3 && n%8 == 7 || n%8 == 1 {
			// Blocks of 4 pixels x 2 vectors (32 or 96 filters).
			p.Width, p.Block, p.Pixels = 16, 32, 4
			p.Co = 32 * (1 + 2*r.IntN(2))
		}
		in := make([]float32, p.InH*p.InW*p.Ci+3)
		k := make([]float32, p.KH*p.KW*p.Ci*p.Co)
		var b []float32
		if n%3 != 0 {
			b = make([]float32, p.Co)
			for i := range b {
				b[i] = r.Float32() - 0.5
			}
		}
		for i := range in[:len(in)-3] {
			in[i] = r.Float32()*2 - 1
		}
		for i := range k {
			k[i] = r.Float32()*2 - 1
		}
		want := naiveConv(p, in, k, b)
		var first []float32
		var pk PackedConv
		for _, avx2 := range []bool{false, true} {
			for _, par := range []int{1, 3} {
				forceAVX2 = avx2
				out := make([]float32, p.OutH*p.OutW*p.Co)
				ConvTiled(p, in, k, b, out, &pk, &ConvScratch{Par: par})
				forceAVX2 = false
				scale := math.Sqrt(float64(p.KH * p.KW * p.Ci))
				for i, w := range want {
					if d := math.Abs(float64(out[i]) - w); d > 1e-5*scale*(1+math.Abs(w)) {
						t.Fatalf("case %d %+v avx2=%v par=%d: out[%d] = %v, want %v", n, *p, avx2, par, i, out[i], w)
					}
				}
				if par == 1 {
					first = out
				} else {
					for i := range out {
						if math.Float32bits(out[i]) != math.Float32bits(first[i]) {
							t.Fatalf("case %d avx2=%v: par=%d gives out[%d] = %v, par=1 gives %v", n, avx2, par, i, out[i], first[i])
						}
					}
				}
			}
		}
	}
}

// TestConvTiledRepacks checks that a changed kernel is packed again: the
// shared packed copy never serves stale weights.
func TestConvTiledRepacks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	p := randomPlan(r)
	in := make([]float32, p.InH*p.InW*p.Ci+3)
	k := make([]float32, p.KH*p.KW*p.Ci*p.Co)
	for i := range in[:len(in)-3] {
		in[i] = r.Float32()
	}
	var pk PackedConv
	out := make([]float32, p.OutH*p.OutW*p.Co)
	ConvTiled(p, in, k, nil, out, &pk, &ConvScratch{})
	for i := range k {
		k[i] = r.Float32() - 0.5
	}
	k[len(k)-1] = 1e-30 // a change in the last float alone must show too
	want := naiveConv(p, in, k, nil)
	ConvTiled(p, in, k, nil, out, &pk, &ConvScratch{})
	for i, w := range want {
		if math.Abs(float64(out[i])-w) > 1e-4*(1+math.Abs(w)) {
			t.Fatalf("out[%d] = %v after the kernel changed, want %v", i, out[i], w)
		}
	}
}

// TestConvTiledRepacksSplit changes one float of a kernel large enough
// for the comparison with its packed copy to be split across goroutines,
// in each part in turn, for the direct and the Winograd kernels: every
// change must be packed again.
func TestConvTiledRepacksSplit(t *testing.T) {
	for _, wino := range []bool{false, true} {
		p := &ConvPlan{Layer: "split", InH: 6, InW: 6, Ci: 128, OutH: 4, OutW: 4, Co: 64, LiveH: 4, LiveW: 4,
			KH: 3, KW: 3, SH: 1, SW: 1, Width: 16, Block: 64, Pixels: 2, Chunk: 128, L1: 48 << 10, L2: 1 << 20, Winograd: wino}
		r := rand.New(rand.NewPCG(5, 6))
		in := make([]float32, p.InH*p.InW*p.Ci+3)
		k := make([]float32, 9*p.Ci*p.Co) // 73,728 floats
		for i := range in[:len(in)-3] {
			in[i] = r.Float32()
		}
		for i := range k {
			k[i] = r.Float32() - 0.5
		}
		var pk PackedConv
		s := &ConvScratch{Par: 3}
		out := make([]float32, p.OutH*p.OutW*p.Co)
		for _, at := range []int{0, len(k) / 3, len(k)/2 + 1, len(k) - 1} {
			ConvTiled(p, in, k, nil, out, &pk, s)
			k[at] += 0.25
			want := naiveConv(p, in, k, nil)
			ConvTiled(p, in, k, nil, out, &pk, s)
			for i, w := range want {
				if math.Abs(float64(out[i])-w) > 1e-4*(1+math.Abs(w)) {
					t.Fatalf("winograd=%v: out[%d] = %v after k[%d] changed, want %v", wino, i, out[i], at, w)
				}
			}
		}
	}
}

// BenchmarkConvTiled measures the tiled kernel on VGG16's convolutions at
// 180x180, with the chunk sizes around the planned one.
func BenchmarkConvTiled(b *testing.B) {
	for _, l := range []struct {
		name         string
		size, ci, co int
	}{
		{"block1_conv2", 180, 64, 64}, {"block2_conv2", 90, 128, 128}, {"block3_conv2", 45, 256, 256},
		{"block4_conv1", 22, 256, 512}, {"block4_conv2", 22, 512, 512}, {"block5_conv2", 11, 512, 512},
	} {
		for _, chunk := range []int{8, 16, 32, 64, 128, 256, 512} {
			if chunk > l.ci {
				continue
			}
			p := &ConvPlan{Layer: l.name, InH: l.size + 2, InW: l.size + 2, Ci: l.ci, OutH: l.size, OutW: l.size, Co: l.co,
				LiveH: l.size, LiveW: l.size, KH: 3, KW: 3, SH: 1, SW: 1, ReLU: true, Width: 16, Block: 64, Pixels: 2, Chunk: chunk}
			b.Run(fmt.Sprintf("%s/chunk%d", l.name, chunk), func(b *testing.B) {
				in := make([]float32, p.InH*p.InW*p.Ci+3)
				k := make([]float32, 9*p.Ci*p.Co)
				out := make([]float32, p.OutH*p.OutW*p.Co)
				// Random values: untouched zero pages would all map to one
				// physical page and stay in cache.
				r := rand.New(rand.NewPCG(5, 6))
				for i := range in {
					in[i] = r.Float32()
				}
				for i := range k {
					k[i] = r.Float32() - 0.5
				}
				var pk PackedConv
				for b.Loop() {
					ConvTiled(p, in, k, nil, out, &pk, &ConvScratch{})
				}
				b.ReportMetric(2*9*float64(l.size*l.size*l.ci*l.co)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestConvInputTiledMatchesNaive checks the tiled input gradient of
// stride-1 convolutions, with and without padding, against naive loops
// over the padded geometry, on live regions smaller than the output, with
// the direct kernel and, for 3x3 kernels, Winograd's F(4x4, 3x3).
func TestConvInputTiledMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for n := range 40 {
		kh, kw := 1+r.IntN(3), 1+r.IntN(3)
		if n%2 == 0 {
			kh, kw = 3, 3
		}
		pt, pb, pl, pr := r.IntN(kh), r.IntN(kh), r.IntN(kw), r.IntN(kw)
		if n%3 == 0 {
			pt, pb, pl, pr = 0, 0, 0, 0
		}
		h, w := kh+r.IntN(8), kw+r.IntN(8)
		ci := []int{32, 64, 128}[r.IntN(3)]
		co := 4 * (1 + r.IntN(10))
		// Every other 3x3 case runs Winograd's F(4x4, 3x3), whose input
		// channels (the layer's filters) come in eights.
		wino := n%4 == 0
		if wino {
			co = 8 * (1 + r.IntN(5))
		}
		hp, wp := h+pt+pb, w+pl+pr
		oh, ow := hp-kh+1, wp-kw+1
		lh, lw := max(oh-r.IntN(2), 1), max(ow-r.IntN(2), 1)
		k := make([]float32, kh*kw*ci*co)
		dz := make([]float32, oh*ow*co)
		for i := range k {
			k[i] = r.Float32() - 0.5
		}
		for i := range dz {
			dz[i] = r.Float32() - 0.5
		}
		width := 16
		if ci%64 != 0 {
			width = 8
		}
		gp := &ConvGradPlan{
			Conv: ConvPlan{InH: h + kh - 1, InW: w + kw - 1, Ci: co, OutH: h, OutW: w, Co: ci, LiveH: h, LiveW: w,
				KH: kh, KW: kw, SH: 1, SW: 1, Width: width, Block: 4 * width, Pixels: 2, Chunk: co,
				OutStride: wp, OutOffset: (pt*wp + pl) * ci},
			DzH: lh, DzW: lw, DzW0: ow, Top: kh - 1 - pt, Left: kw - 1 - pl,
		}
		if co%8 == 0 && r.IntN(2) == 0 {
			gp.Conv.Chunk = co / 2
		}
		if wino {
			gp.Conv.Winograd, gp.Conv.L1, gp.Conv.L2 = true, 48<<10, 1<<20
		}
		// The reference: the gradient of the padded input, from the live
		// outputs only.
		want := make([]float64, hp*wp*ci)
		for y := range lh {
			for x := range lw {
				for ky := range kh {
					for kx := range kw {
						for c := range ci {
							s := 0.0
							for o := range co {
								s += float64(dz[(y*ow+x)*co+o]) * float64(k[((ky*kw+kx)*ci+c)*co+o])
							}
							want[((y+ky)*wp+x+kx)*ci+c] += s
						}
					}
				}
			}
		}
		var pk PackedConv
		var first []float32
		for _, avx2 := range []bool{false, true} {
			for _, par := range []int{1, 2} {
				forceAVX2 = avx2
				dp := make([]float32, hp*wp*ci)
				ConvInputTiled(gp, k, dz, dp, &pk, &ConvScratch{Par: par})
				forceAVX2 = false
				for y := range h {
					for x := range w {
						for c := range ci {
							i := ((y+pt)*wp+x+pl)*ci + c
							if d := math.Abs(float64(dp[i]) - want[i]); d > 1e-4*(1+math.Abs(want[i])) {
								t.Fatalf("case %d (k %dx%d pad %d,%d,%d,%d in %dx%dx%d co %d live %dx%d of %dx%d) avx2=%v par=%d: din(%d,%d,%d) = %v, want %v",
									n, kh, kw, pt, pb, pl, pr, h, w, ci, co, lh, lw, oh, ow, avx2, par, y, x, c, dp[i], want[i])
							}
						}
					}
				}
				if par == 1 {
					first = dp
				} else {
					for i := range dp {
						if math.Float32bits(dp[i]) != math.Float32bits(first[i]) {
							t.Fatalf("case %d: par=%d differs from par=1 at %d", n, par, i)
						}
					}
				}
			}
		}
	}
}

// TestConvWeightsTiledMatchesNaive checks the tiled weight and bias
// gradients against naive loops, adding into gradients that already hold
// values, with strides, padding-free and odd shapes and live regions.
func TestConvWeightsTiledMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for n := range 40 {
		p := randomPlan(r)
		p.L1 = []int{32 << 10, 48 << 10, 4 << 10}[r.IntN(3)]
		in := make([]float32, p.InH*p.InW*p.Ci+4)
		dz := make([]float32, p.OutH*p.OutW*p.Co)
		for i := range in[:len(in)-4] {
			in[i] = r.Float32() - 0.5
		}
		for i := range dz {
			dz[i] = r.Float32() - 0.5
		}
		dk0 := make([]float32, p.KH*p.KW*p.Ci*p.Co)
		db0 := make([]float32, p.Co)
		for i := range dk0 {
			dk0[i] = r.Float32()
		}
		for i := range db0 {
			db0[i] = r.Float32()
		}
		for _, avx2 := range []bool{false, true} {
			dk := append([]float32(nil), dk0...)
			db := append([]float32(nil), db0...)
			forceAVX2 = avx2
			ConvWeightsTiled(p, in, dz, dk, db, &ConvScratch{})
			forceAVX2 = false
			for ky := range p.KH {
				for kx := range p.KW {
					for c := range p.Ci {
						for o := range p.Co {
							want := float64(dk0[((ky*p.KW+kx)*p.Ci+c)*p.Co+o])
							for y := range p.LiveH {
								for x := range p.LiveW {
									want += float64(in[((y*p.SH+ky)*p.InW+x*p.SW+kx)*p.Ci+c]) * float64(dz[(y*p.OutW+x)*p.Co+o])
								}
							}
							got := dk[((ky*p.KW+kx)*p.Ci+c)*p.Co+o]
							if math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
								t.Fatalf("case %d %+v avx2=%v: dk(%d,%d,%d,%d) = %v, want %v", n, *p, avx2, ky, kx, c, o, got, want)
							}
						}
					}
				}
			}
			for o := range p.Co {
				want := float64(db0[o])
				for y := range p.LiveH {
					for x := range p.LiveW {
						want += float64(dz[(y*p.OutW+x)*p.Co+o])
					}
				}
				if math.Abs(float64(db[o])-want) > 1e-4*(1+math.Abs(want)) {
					t.Fatalf("case %d avx2=%v: db[%d] = %v, want %v", n, avx2, o, db[o], want)
				}
			}
		}
	}
}

// BenchmarkTileBlockL1 measures the 2-pixel register block with its
// weights (16 input channels, 3x3 taps: 36 KB) and inputs in L1: the
// ceiling of the tiled kernels, to compare with an FMA probe.
func BenchmarkTileBlockL1(b *testing.B) {
	ci := 16
	in := make([]float32, 4*4*ci+16)
	for i := range in {
		in[i] = 1
	}
	slab := make([]float32, 9*ci*64)
	out := make([]float32, 2*64)
	cs, rs := uintptr(ci*4), uintptr(4*ci*4)
	mk, block := tile2x16, 64
	if !hasAVX512 {
		mk, block = tile2x8, 32
	}
	for b.Loop() {
		for range 1000 {
			mk(unsafe.Pointer(&in[0]), unsafe.Pointer(&slab[0]), unsafe.Pointer(&out[0]), nil, ci, cs, cs, rs, uintptr(ci*block*4), uintptr(block*4), 3, 3, false, false)
		}
	}
	archsimd.ClearAVXUpperBits()
	b.ReportMetric(float64(b.N)*1000*9*float64(ci)*2*float64(block)*2/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// TestConvWinogradMatchesNaive checks Winograd's F(4x4, 3x3) against the
// float64 convolution on random shapes: live regions that end inside a
// tile, a last tile whose input runs past the buffer (read as zeros),
// tiles split across 1 to 3 goroutines and blocks (a small L2), with and
// without bias and ReLU, on 16- and 8-float vectors; and that the result
// does not depend on the split.
func TestConvWinogradMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	for n := range 60 {
		p := &ConvPlan{Layer: "wino", Width: 16, Block: 64, Pixels: 2, L1: 48 << 10, L2: 1 << 20, Winograd: true}
		p.KH, p.KW, p.SH, p.SW = 3, 3, 1, 1
		p.Ci = 8 * (1 + r.IntN(8))
		p.Co = 64 * (1 + r.IntN(2))
		if n%5 == 4 {
			p.Width, p.Block = 8, 32
			p.Co = 32 * (1 + r.IntN(3))
		}
		if n%3 == 2 {
			p.L2 = 64 << 10 // blocks of 16 tiles
		}
		p.OutH, p.OutW = 1+r.IntN(23), 1+r.IntN(23)
		p.InH, p.InW = p.OutH+2, p.OutW+2
		p.LiveH, p.LiveW = max(p.OutH-r.IntN(2), 1), max(p.OutW-r.IntN(2), 1)
		p.Chunk = p.Ci
		p.ReLU = r.IntN(2) == 0
		in := make([]float32, p.InH*p.InW*p.Ci+3)
		k := make([]float32, 9*p.Ci*p.Co)
		var b []float32
		if n%4 != 0 {
			b = make([]float32, p.Co)
			for i := range b {
				b[i] = r.Float32() - 0.5
			}
		}
		for i := range in[:len(in)-3] {
			in[i] = r.Float32()*2 - 1
		}
		for i := range k {
			k[i] = (r.Float32()*2 - 1) / float32(math.Sqrt(float64(9*p.Ci)))
		}
		want := naiveConv(p, in, k, b)
		var scale float64
		for _, w := range want {
			scale = math.Max(scale, math.Abs(w))
		}
		var first []float32
		var pk PackedConv
		for _, avx2 := range []bool{false, true} {
			for _, par := range []int{1, 2, 3} {
				forceAVX2 = avx2
				out := make([]float32, p.OutH*p.OutW*p.Co)
				for i := range out {
					out[i] = -7 // outputs beyond the live region keep their value
				}
				ConvTiled(p, in, k, b, out, &pk, &ConvScratch{Par: par})
				forceAVX2 = false
				for y := range p.OutH {
					for x := range p.OutW {
						for o := range p.Co {
							i := (y*p.OutW+x)*p.Co + o
							if y >= p.LiveH || x >= p.LiveW {
								if out[i] != -7 {
									t.Fatalf("case %d %+v: out[%d] outside the live region written", n, *p, i)
								}
								continue
							}
							d := math.Abs(float64(out[i])-want[i]) / scale
							worst = math.Max(worst, d)
							if d > 1e-5 {
								t.Fatalf("case %d %+v avx2=%v par=%d: out[%d] = %v, want %v (%.2g of the largest)", n, *p, avx2, par, i, out[i], want[i], d)
							}
						}
					}
				}
				if first == nil {
					first = out
				} else if !avx2 || p.Width == 8 {
					for i := range out {
						if math.Float32bits(out[i]) != math.Float32bits(first[i]) {
							t.Fatalf("case %d avx2=%v: par=%d gives out[%d] = %v, par=1 gives %v", n, avx2, par, i, out[i], first[i])
						}
					}
				}
			}
			first = nil
		}
	}
	t.Logf("largest difference from float64: %.2g of the largest output", worst)
}

// TestConvWinogradWideChannels measures F(4x4, 3x3) with VGG16's widest
// layers' 512 input channels, where rounding errors add up over the
// longest sums, against the float64 convolution and the direct kernel.
func TestConvWinogradWideChannels(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	p := &ConvPlan{Layer: "wide", InH: 10, InW: 10, Ci: 512, OutH: 8, OutW: 8, Co: 64, LiveH: 8, LiveW: 8,
		KH: 3, KW: 3, SH: 1, SW: 1, Width: 16, Block: 64, Pixels: 2, Chunk: 16, L1: 48 << 10, L2: 1 << 20, ReLU: false}
	in := make([]float32, p.InH*p.InW*p.Ci+3)
	k := make([]float32, 9*p.Ci*p.Co)
	for i := range in[:len(in)-3] {
		in[i] = r.Float32()
	}
	for i := range k {
		k[i] = (r.Float32()*2 - 1) / float32(math.Sqrt(float64(9*p.Ci)))
	}
	want := naiveConv(p, in, k, nil)
	var scale float64
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	errOf := func(wino bool) float64 {
		q := *p
		q.Winograd = wino
		out := make([]float32, p.OutH*p.OutW*p.Co)
		ConvTiled(&q, in, k, nil, out, &PackedConv{}, &ConvScratch{Par: 2})
		worst := 0.0
		for i, w := range want {
			worst = math.Max(worst, math.Abs(float64(out[i])-w)/scale)
		}
		return worst
	}
	direct, wino := errOf(false), errOf(true)
	t.Logf("512 input channels, largest difference from float64: direct %.2g, Winograd F(4x4) %.2g of the largest output", direct, wino)
	if wino > 2e-5 {
		t.Errorf("Winograd's error %.2g of the largest output, want at most 2e-5", wino)
	}
}

// TestConvWeightsWinogradMatchesNaive checks the kernel and bias
// gradients of Winograd plans (F(4x4, 3x3), with live regions smaller
// than the output, partial tiles and both vector widths) against float64
// sums, relative to the largest gradient.
func TestConvWeightsWinogradMatchesNaive(t *testing.T) {
	defer func(n int) { winoWeightTiles = n }(winoWeightTiles)
	winoWeightTiles = 1
	r := rand.New(rand.NewPCG(11, 12))
	worst := 0.0
	for n := range 30 {
		p := &ConvPlan{Layer: "winograd", Width: 16, Block: 64, Pixels: 2, L1: 48 << 10, L2: 1 << 20, Winograd: true}
		p.KH, p.KW, p.SH, p.SW = 3, 3, 1, 1
		p.Ci = 8 * (1 + r.IntN(8))
		p.Co = 64 * (1 + r.IntN(2))
		if n%5 == 4 {
			p.Width, p.Block = 8, 32
			p.Co = 32 * (1 + r.IntN(3))
		}
		if n%3 == 2 {
			p.L2 = 64 << 10 // several blocks of tiles
		}
		p.OutH, p.OutW = 1+r.IntN(21), 1+r.IntN(21)
		p.InH, p.InW = p.OutH+2, p.OutW+2
		p.LiveH, p.LiveW = max(p.OutH-r.IntN(2), 1), max(p.OutW-r.IntN(2), 1)
		p.Chunk = p.Ci
		in := make([]float32, p.InH*p.InW*p.Ci+4)
		dz := make([]float32, p.OutH*p.OutW*p.Co)
		for i := range in[:len(in)-4] {
			in[i] = r.Float32()*2 - 1
		}
		for i := range dz {
			dz[i] = r.Float32()*2 - 1
		}
		want := make([]float64, 9*p.Ci*p.Co)
		var scale float64
		for tap := range 9 {
			ky, kx := tap/3, tap%3
			for c := range p.Ci {
				for o := range p.Co {
					var s float64
					for y := range p.LiveH {
						for x := range p.LiveW {
							s += float64(in[((y+ky)*p.InW+x+kx)*p.Ci+c]) * float64(dz[(y*p.OutW+x)*p.Co+o])
						}
					}
					want[(tap*p.Ci+c)*p.Co+o] = s
					scale = math.Max(scale, math.Abs(s))
				}
			}
		}
		for _, avx2 := range []bool{false, true} {
			dk := make([]float32, len(want))
			for i := range dk {
				dk[i] = 0.5 // the gradient is added
			}
			db := make([]float32, p.Co)
			forceAVX2 = avx2
			ConvWeightsTiled(p, in, dz, dk, db, &ConvScratch{Par: 2})
			forceAVX2 = false
			for i, w := range want {
				d := math.Abs(float64(dk[i])-0.5-w) / scale
				worst = math.Max(worst, d)
				if d > 2e-5 {
					t.Fatalf("case %d %+v avx2=%v: dk[%d] = %v, want %v (%.2g of the largest)", n, *p, avx2, i, dk[i]-0.5, w, d)
				}
			}
			for o := range p.Co {
				var w float64
				for y := range p.LiveH {
					for x := range p.LiveW {
						w += float64(dz[(y*p.OutW+x)*p.Co+o])
					}
				}
				if math.Abs(float64(db[o])-w) > 1e-4*(1+math.Abs(w)) {
					t.Fatalf("case %d avx2=%v: db[%d] = %v, want %v", n, avx2, o, db[o], w)
				}
			}
		}
	}
	t.Logf("largest difference from float64: %.2g of the largest kernel gradient", worst)
}

// TestConvWeightsWinogradWide measures the Winograd kernel gradient over
// a 22x22 map with 256 input channels (VGG16's block 4 has 22x22 maps),
// where the sums are longest, against float64 and the direct kernel.
func TestConvWeightsWinogradWide(t *testing.T) {
	defer func(n int) { winoWeightTiles = n }(winoWeightTiles)
	winoWeightTiles = 1
	r := rand.New(rand.NewPCG(13, 14))
	p := &ConvPlan{Layer: "wide", InH: 24, InW: 24, Ci: 256, OutH: 22, OutW: 22, Co: 64, LiveH: 22, LiveW: 22,
		KH: 3, KW: 3, SH: 1, SW: 1, Width: 16, Block: 64, Pixels: 2, Chunk: 16, L1: 48 << 10, L2: 1 << 20}
	in := make([]float32, p.InH*p.InW*p.Ci+4)
	dz := make([]float32, p.OutH*p.OutW*p.Co)
	for i := range in[:len(in)-4] {
		in[i] = r.Float32()
	}
	for i := range dz {
		dz[i] = r.Float32()*2 - 1
	}
	errOf := func(wino bool) float64 {
		q := *p
		q.Winograd = wino
		dk := make([]float32, 9*p.Ci*p.Co)
		ConvWeightsTiled(&q, in, dz, dk, nil, &ConvScratch{})
		worst, scale := 0.0, 0.0
		for tap := range 9 {
			ky, kx := tap/3, tap%3
			for c := 0; c < p.Ci; c += 17 {
				for o := range p.Co {
					var s float64
					for y := range p.LiveH {
						for x := range p.LiveW {
							s += float64(in[((y+ky)*p.InW+x+kx)*p.Ci+c]) * float64(dz[(y*p.OutW+x)*p.Co+o])
						}
					}
					scale = math.Max(scale, math.Abs(s))
					worst = math.Max(worst, math.Abs(float64(dk[(tap*p.Ci+c)*p.Co+o])-s))
				}
			}
		}
		return worst / scale
	}
	direct, wino := errOf(false), errOf(true)
	t.Logf("kernel gradient over 22x22 outputs, largest difference from float64: direct %.2g, Winograd F(4x4) %.2g of the largest", direct, wino)
	if wino > 2e-5 {
		t.Errorf("Winograd's error %.2g of the largest gradient, want at most 2e-5", wino)
	}
}

// BenchmarkConvWeights measures the kernel gradient of VGG16's padded
// layers at 180x180, direct and through Winograd's F(4x4, 3x3); block 4's
// 22x22 maps have too few tiles for it (winoWeightTiles).
func BenchmarkConvWeights(b *testing.B) {
	for _, l := range []struct {
		name         string
		size, ci, co int
	}{
		{"block1_conv2", 180, 64, 64}, {"block2_conv2", 90, 128, 128}, {"block3_conv2", 45, 256, 256},
	} {
		for _, wino := range []bool{false, true} {
			p := &ConvPlan{Layer: l.name, InH: l.size + 2, InW: l.size + 2, Ci: l.ci, OutH: l.size, OutW: l.size, Co: l.co,
				LiveH: l.size, LiveW: l.size, KH: 3, KW: 3, SH: 1, SW: 1, Width: 16, Block: 64, Pixels: 2, Chunk: 16,
				L1: 48 << 10, L2: 1 << 20, Winograd: wino}
			b.Run(fmt.Sprintf("%s/winograd=%v", l.name, wino), func(b *testing.B) {
				r := rand.New(rand.NewPCG(5, 6))
				in := make([]float32, p.InH*p.InW*p.Ci+4)
				dz := make([]float32, p.OutH*p.OutW*p.Co)
				for i := range in {
					in[i] = r.Float32()
				}
				for i := range dz {
					dz[i] = r.Float32() - 0.5
				}
				dk := make([]float32, 9*p.Ci*p.Co)
				s := &ConvScratch{}
				for b.Loop() {
					ConvWeightsTiled(p, in, dz, dk, nil, s)
				}
				b.ReportMetric(2*9*float64(l.size*l.size*l.ci*l.co)*float64(b.N)/b.Elapsed().Seconds()/1e9, "direct-GFLOP/s")
			})
		}
	}
}

// TestConvTiledPoolFused checks plans that fuse a MaxPooling2D(2) (direct,
// first layers with widened channels, and Winograd; odd and even maps;
// both vector widths; 1 to 3 goroutines) against the unfused plan followed
// by a 2x2 max pool, bit for bit.
func TestConvTiledPoolFused(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for n := range 48 {
		p := randomPlan(r)
		switch n % 3 {
		case 1:
			p.KH, p.KW, p.SH, p.SW, p.Ci, p.Chunk = 3, 3, 1, 1, 8*(1+r.IntN(4)), 8
			p.Winograd = true
		case 2:
			p.Ci, p.CiPad, p.Chunk = 3, 4, 4
			p.Block, p.Pixels, p.Co = 32, 4, 32*(1+r.IntN(2))
		}
		p.OutH, p.OutW = 2+r.IntN(14), 2+r.IntN(14)
		p.InH, p.InW = (p.OutH-1)*p.SH+p.KH, (p.OutW-1)*p.SW+p.KW
		// The live region covers what the pool reads, as codegen plans it.
		p.LiveH, p.LiveW = p.OutH/2*2+r.IntN(p.OutH%2+1), p.OutW/2*2+r.IntN(p.OutW%2+1)
		p.ReLU = r.IntN(2) == 0
		in := make([]float32, p.InH*p.InW*p.Ci+4)
		k := make([]float32, p.KH*p.KW*p.Ci*p.Co)
		b := make([]float32, p.Co)
		for i := range in[:len(in)-4] {
			in[i] = r.Float32()*2 - 1
		}
		for i := range k {
			k[i] = r.Float32() - 0.5
		}
		for i := range b {
			b[i] = r.Float32() - 0.5
		}
		ph, pw := p.OutH/2, p.OutW/2
		for _, avx2 := range []bool{false, true} {
			forceAVX2 = avx2
			full := make([]float32, p.OutH*p.OutW*p.Co)
			var pk PackedConv
			ConvTiled(p, in, k, b, full, &pk, &ConvScratch{})
			want := make([]float32, ph*pw*p.Co)
			for y := range ph {
				for x := range pw {
					for o := range p.Co {
						v := full[((2*y)*p.OutW+2*x)*p.Co+o]
						for _, d := range [][2]int{{0, 1}, {1, 0}, {1, 1}} {
							v = max(v, full[((2*y+d[0])*p.OutW+2*x+d[1])*p.Co+o])
						}
						want[(y*pw+x)*p.Co+o] = v
					}
				}
			}
			q := *p
			q.Pool = 2
			for par := 1; par <= 3; par++ {
				got := make([]float32, len(want))
				ConvTiled(&q, in, k, b, got, &pk, &ConvScratch{Par: par})
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						forceAVX2 = false
						t.Fatalf("case %d %+v avx2=%v par=%d: pooled[%d] = %v, unfused %v", n, q, avx2, par, i, got[i], want[i])
					}
				}
			}
		}
		forceAVX2 = false
	}
}
