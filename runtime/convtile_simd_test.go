//go:build goexperiment.simd && amd64

package runtime

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveConv is the obviously correct convolution ConvTiled is checked
// against, in float64.
func naiveConv(p *ConvPlan, in, k, b []float32) []float64 {
	out := make([]float64, p.OutH*p.OutW*p.Co)
	for y := range p.LiveH {
		for x := range p.LiveW {
			for o := range p.Co {
				s := 0.0
				if b != nil {
					s = float64(b[o])
				}
				for ky := range p.KH {
					for kx := range p.KW {
						for c := range p.Ci {
							s += float64(in[((y*p.SH+ky)*p.InW+x*p.SW+kx)*p.Ci+c]) * float64(k[((ky*p.KW+kx)*p.Ci+c)*p.Co+o])
						}
					}
				}
				if p.ReLU {
					s = max(s, 0)
				}
				out[(y*p.OutW+x)*p.Co+o] = s
			}
		}
	}
	return out
}

func randomPlan(r *rand.Rand) *ConvPlan {
	p := &ConvPlan{Layer: "test", Width: 16, Block: 64, Pixels: 2, L1: 48 << 10, L2: 1 << 20}
	p.KH, p.KW = 1+r.IntN(3), 1+r.IntN(3)
	if r.IntN(3) == 0 {
		p.KH, p.KW = 3, 3
	}
	p.SH, p.SW = 1+r.IntN(2), 1+r.IntN(2)
	p.Ci = 4 * (1 + r.IntN(12))
	p.Co = 64 * (1 + r.IntN(3))
	p.OutH, p.OutW = 1+r.IntN(9), 1+r.IntN(9)
	p.InH, p.InW = (p.OutH-1)*p.SH+p.KH, (p.OutW-1)*p.SW+p.KW
	p.LiveH, p.LiveW = p.OutH-r.IntN(2), p.OutW-r.IntN(2)
	p.LiveH, p.LiveW = max(p.LiveH, 1), max(p.LiveW, 1)
	divs := []int{}
	for c := 4; c <= p.Ci; c += 4 {
		if p.Ci%c == 0 {
			divs = append(divs, c)
		}
	}
	p.Chunk = divs[r.IntN(len(divs))]
	p.ReLU = r.IntN(2) == 0
	return p
}

func TestConvTiledMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 60 {
		p := randomPlan(r)
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
