package runtime

import (
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

// TestConvTiledPortableMatchesNaive checks the portable build's kernel for
// tiled layers on random plans (padded inputs read in part, strides,
// first layers with widened channels, chunks, plans that ask for
// Winograd, outputs into a padded buffer) against float64 sums.
func TestConvTiledPortableMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for n := range 60 {
		p := randomPlan(r)
		switch n % 4 {
		case 1:
			p.Ci, p.CiPad, p.Chunk = []int{1, 2, 3, 5}[r.IntN(4)], 0, 0
			p.CiPad = (p.Ci + 3) / 4 * 4
			p.Chunk = p.CiPad
			if r.IntN(2) == 0 {
				p.Block, p.Pixels, p.Co = 32, 4, 32*(1+r.IntN(2))
			}
		case 2:
			p.KH, p.KW, p.SH, p.SW, p.Ci, p.Chunk = 3, 3, 1, 1, 8*(1+r.IntN(3)), 8
			p.InH, p.InW = p.OutH+2, p.OutW+2
			p.Winograd = true
		}
		in := make([]float32, p.InH*p.InW*p.Ci)
		k := make([]float32, p.KH*p.KW*p.Ci*p.Co)
		b := make([]float32, p.Co)
		for i := range in {
			in[i] = r.Float32()*2 - 1
		}
		for i := range k {
			k[i] = r.Float32() - 0.5
		}
		for i := range b {
			b[i] = r.Float32() - 0.5
		}
		if n%5 == 0 {
			b = nil
		}
		want := naiveConv(p, in, k, b)
		q := *p
		pad := 0
		if n%3 == 0 {
			// Into the interior of a buffer one pixel wider on each side.
			pad = 1
			q.OutStride, q.OutOffset = p.OutW+2, (p.OutW+2+1)*p.Co
		}
		out := make([]float32, (p.OutH+2*pad)*(p.OutW+2*pad)*p.Co)
		for i := range out {
			out[i] = -7
		}
		ConvTiledPortable(&q, in, k, b, out)
		for y := range p.OutH {
			for x := range p.OutW {
				for o := range p.Co {
					got := out[((y+pad)*(p.OutW+2*pad)+x+pad)*p.Co+o]
					if y >= p.LiveH || x >= p.LiveW {
						if got != -7 {
							t.Fatalf("case %d %+v: output (%d, %d, %d) outside the live region written", n, q, y, x, o)
						}
						continue
					}
					w := want[(y*p.OutW+x)*p.Co+o]
					if math.Abs(float64(got)-w) > 1e-4*(1+math.Abs(w)) {
						t.Fatalf("case %d %+v: output (%d, %d, %d) = %v, want %v", n, q, y, x, o, got, w)
					}
				}
			}
		}
	}
}
