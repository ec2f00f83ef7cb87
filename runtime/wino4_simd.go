//go:build goexperiment.simd && amd64

package runtime

import (
	goruntime "runtime"
	"simd/archsimd"
	"unsafe"
)

// This file is the SIMD build's Winograd F(4x4, 3x3) convolution, which
// ConvTiled runs for the plans that ask for it (ConvPlan.Winograd). Each
// 4x4 block of output pixels (a tile) comes from the 6x6 block of input
// pixels under it in three steps:
//
//  1. the input transform V = Bᵀ d B of every input channel of the tile;
//  2. 36 matrix products, one per cell p of the 6x6 transform:
//     M[p][tile][co] = Σ_ci V[p][tile][ci] U[p][ci][co], where U = G g Gᵀ
//     is the transformed kernel (packed once, like the tiled kernel's);
//     each product is a 1x1 convolution over the tiles, run by the tiled
//     kernel's register blocks (convTiledPart);
//  3. the output transform Y = Aᵀ M A, with the bias and ReLU.
//
// The products cost 36 multiply-adds per tile and channel pair, against
// 144 for the 16 outputs of a direct 3x3 convolution. The tiles are split
// across goroutines and computed in blocks (winoBlock); every output is
// computed by the same operations in the same order whatever the split,
// so the results do not depend on the number of goroutines. The
// transforms (winoIn16, winoOut16, written by gen_tiles.go) run on
// 16-float vectors where the kernel does and the channels come in 16s, on
// 8-float ones otherwise.

// winoScratch returns part g's buffer for blocks of nb tiles: V (36 x nb
// x Ci, then 4 floats of slack for the broadcasts) and M (36 x nb x Co).
func (s *ConvScratch) winoScratch(g int, p *ConvPlan, nb int) (v, m []float32) {
	for len(s.wino) <= g {
		s.wino = append(s.wino, nil)
	}
	nv, nm := 36*nb*p.Ci+4, 36*nb*p.Co
	if cap(s.wino[g]) < nv+nm {
		s.wino[g] = make([]float32, nv+nm)
	}
	buf := s.wino[g][:nv+nm]
	return buf[:nv], buf[nv:]
}

// convWinogradRun splits the tiles of a Winograd convolution across par
// goroutines.
func convWinogradRun(p *ConvPlan, width, block, par int, in, b, out, packed []float32, s *ConvScratch) {
	th, tw := p.winoTiles()
	n := th * tw
	par = min(par, n)
	if par <= 1 {
		v, m := s.winoScratch(0, p, p.winoBlock(n))
		convWinogradPart(p, width, block, 0, n, in, b, out, packed, v, m)
		return
	}
	slots := s.helpers(par)
	var own tileJob
	for g := range par {
		t0, t1 := g*n/par, (g+1)*n/par
		v, m := s.winoScratch(g, p, p.winoBlock(t1-t0))
		j := tileJob{kind: jobWino, p: p, width: width, block: block, b0: t0, b1: t1,
			in: in, b: b, out: out, packed: packed, v: v, m: m}
		if g == 0 {
			own = j
			continue
		}
		slots[g-1].post(j)
	}
	own.run()
	for _, sl := range slots {
		sl.wait()
	}
	goruntime.KeepAlive(s) // its cleanup ends the helpers
}

// convWinogradPart computes the tiles [t0, t1) in blocks.
func convWinogradPart(p *ConvPlan, width, block, t0, t1 int, in, b, out, packed, v, m []float32) {
	nb := p.winoBlock(t1 - t0)
	for b0 := t0; b0 < t1; b0 += nb {
		n := min(nb, t1-b0)
		winoInput(p, width, b0, n, nb, in, v)
		g := p.winoGEMM(n)
		for c := range 36 {
			vp := v[c*nb*p.Ci:]
			mp := m[c*nb*p.Co:]
			convTiledPart(&g, width, block, 0, p.Co/block, 0, 1, vp, nil, mp, packed[c*p.Ci*p.Co:])
		}
		winoOutput(p, width, b0, n, nb, b, m, out)
	}
}

// winoInput writes V for the n tiles from t0: V[c][j][ci] for cell c of
// tile t0+j. Input pixels beyond the input (the last tiles' overhang) are
// zeros: such tiles are copied into a zero-padded 6x6 block first.
func winoInput(p *ConvPlan, width, t0, n, nb int, in, v []float32) {
	_, tw := p.winoTiles()
	ci := p.Ci
	w := 8
	if width == 16 && ci%16 == 0 {
		w = 16
	}
	_ = in[p.InH*p.InW*ci-1]
	_ = v[36*nb*ci-1]
	var edge, tmp [36 * 16]float32
	cs, rs := uintptr(ci*4), uintptr(p.InW*ci*4)
	ds := uintptr(nb * ci * 4)
	base := unsafe.Pointer(&in[0])
	for j := range n {
		ty, tx := (t0+j)/tw, (t0+j)%tw
		y0, x0 := 4*ty, 4*tx
		rows, cols := min(6, p.InH-y0), min(6, p.InW-x0)
		dst := unsafe.Pointer(&v[j*ci])
		for c := 0; c < ci; c += w {
			src, srs, scs := unsafe.Add(base, uintptr((y0*p.InW+x0)*ci+c)*4), rs, cs
			if rows < 6 || cols < 6 {
				clear(edge[:])
				for y := range rows {
					for x := range cols {
						copy(edge[(y*6+x)*w:][:w], in[((y0+y)*p.InW+x0+x)*ci+c:])
					}
				}
				src, srs, scs = unsafe.Pointer(&edge[0]), uintptr(6*w*4), uintptr(w*4)
			}
			if w == 16 {
				winoIn16(src, srs, scs, unsafe.Add(dst, c*4), ds, unsafe.Pointer(&tmp))
			} else {
				winoIn8(src, srs, scs, unsafe.Add(dst, c*4), ds, unsafe.Pointer(&tmp))
			}
		}
	}
}

// winoOutput computes Y = Aᵀ M A for the n tiles from t0, adds the bias,
// applies ReLU when the plan fuses it, and stores the live pixels.
func winoOutput(p *ConvPlan, width, t0, n, nb int, b, m, out []float32) {
	_, tw := p.winoTiles()
	co := p.Co
	w := 8
	if width == 16 && co%16 == 0 {
		w = 16
	}
	ostride := p.outStride()
	_ = m[36*nb*co-1]
	_ = out[p.OutOffset+((p.LiveH-1)*ostride+p.LiveW)*co-1]
	ms := uintptr(nb * co * 4)
	cs, rs := uintptr(co*4), uintptr(ostride*co*4)
	var zero [16]float32
	var tmp [24 * 16]float32
	for j := range n {
		ty, tx := (t0+j)/tw, (t0+j)%tw
		y0, x0 := 4*ty, 4*tx
		rows, cols := min(4, p.LiveH-y0), min(4, p.LiveW-x0)
		src := unsafe.Pointer(&m[j*co])
		dst := unsafe.Pointer(&out[p.OutOffset+(y0*ostride+x0)*co])
		for c := 0; c < co; c += w {
			// The bias of these w channels (a conversion to a longer array
			// would straddle the end of b).
			bp := unsafe.Pointer(&zero)
			if b != nil {
				bp = unsafe.Pointer(unsafe.SliceData(b[c : c+w]))
			}
			if w == 16 {
				winoOut16(unsafe.Add(src, c*4), ms, archsimd.LoadFloat32x16((*[16]float32)(bp)), unsafe.Add(dst, c*4), rs, cs, rows, cols, p.ReLU, unsafe.Pointer(&tmp))
			} else {
				winoOut8(unsafe.Add(src, c*4), ms, archsimd.LoadFloat32x8((*[8]float32)(bp)), unsafe.Add(dst, c*4), rs, cs, rows, cols, p.ReLU, unsafe.Pointer(&tmp))
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}
