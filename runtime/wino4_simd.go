//go:build goexperiment.simd && amd64

package runtime

import (
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
// goroutines, in parts of at least 32 tiles where there are enough (each
// part reads the whole transformed kernel).
func convWinogradRun(p *ConvPlan, width, block, par int, in, b, out, packed []float32, s *ConvScratch) {
	th, tw := p.winoTiles()
	n := th * tw
	par = min(par, n)
	if par <= 1 {
		v, m := s.winoScratch(0, p, p.winoBlock(n))
		convWinogradPart(p, width, block, 0, n, in, b, out, packed, v, m)
		return
	}
	s.runSplit(par, tileJob{kind: jobWino, p: p, width: width, block: block, in: in, b: b, out: out, packed: packed,
		total: n, parts: splitParts(n, par, 32)})
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
			convTiledPart(&g, width, block, 0, p.Co/block, 0, 1, vp, nil, mp, packed[c*p.Ci*p.Co:], nil)
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
// applies ReLU when the plan fuses it, and stores the live pixels, or
// with a fused pool (p.Pool) the maxima of their 2x2 windows.
func winoOutput(p *ConvPlan, width, t0, n, nb int, b, m, out []float32) {
	_, tw := p.winoTiles()
	co := p.Co
	w := 8
	if width == 16 && co%16 == 0 {
		w = 16
	}
	ostride := p.outStride()
	ph, pw := 0, 0
	_ = m[36*nb*co-1]
	if p.Pool != 0 {
		ph, pw = p.OutH/p.Pool, p.OutW/p.Pool
		_ = out[ph*pw*co-1]
	} else {
		_ = out[p.OutOffset+((p.LiveH-1)*ostride+p.LiveW)*co-1]
	}
	ms := uintptr(nb * co * 4)
	cs, rs := uintptr(co*4), uintptr(ostride*co*4)
	if p.Pool != 0 {
		rs = uintptr(pw * co * 4)
	}
	var zero [16]float32
	var tmp [24 * 16]float32
	for j := range n {
		ty, tx := (t0+j)/tw, (t0+j)%tw
		y0, x0 := 4*ty, 4*tx
		rows, cols := min(4, p.LiveH-y0), min(4, p.LiveW-x0)
		var dst unsafe.Pointer
		if p.Pool != 0 {
			// The tile's 2x2 pooled pixels from (2ty, 2tx), those the pool
			// keeps.
			rows, cols = min(2, ph-2*ty), min(2, pw-2*tx)
			if rows <= 0 || cols <= 0 {
				continue
			}
			dst = unsafe.Pointer(&out[(2*ty*pw+2*tx)*co])
		} else {
			dst = unsafe.Pointer(&out[p.OutOffset+(y0*ostride+x0)*co])
		}
		src := unsafe.Pointer(&m[j*co])
		for c := 0; c < co; c += w {
			// The bias of these w channels (a conversion to a longer array
			// would straddle the end of b).
			bp := unsafe.Pointer(&zero)
			if b != nil {
				bp = unsafe.Pointer(unsafe.SliceData(b[c : c+w]))
			}
			switch {
			case w == 16 && p.Pool != 0:
				winoOutPool16(unsafe.Add(src, c*4), ms, archsimd.LoadFloat32x16((*[16]float32)(bp)), unsafe.Add(dst, c*4), rs, cs, rows, cols, p.ReLU, unsafe.Pointer(&tmp))
			case w == 16:
				winoOut16(unsafe.Add(src, c*4), ms, archsimd.LoadFloat32x16((*[16]float32)(bp)), unsafe.Add(dst, c*4), rs, cs, rows, cols, p.ReLU, unsafe.Pointer(&tmp))
			case p.Pool != 0:
				winoOutPool8(unsafe.Add(src, c*4), ms, archsimd.LoadFloat32x8((*[8]float32)(bp)), unsafe.Add(dst, c*4), rs, cs, rows, cols, p.ReLU, unsafe.Pointer(&tmp))
			default:
				winoOut8(unsafe.Add(src, c*4), ms, archsimd.LoadFloat32x8((*[8]float32)(bp)), unsafe.Add(dst, c*4), rs, cs, rows, cols, p.ReLU, unsafe.Pointer(&tmp))
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// convWeightsWinograd adds the kernel gradient of a Winograd plan into dk
// (HWIO). With Y = Aᵀ M A, M[p] = Σ_ci V[p] U[p] and U = G g Gᵀ (see the
// top of this file), the gradient of one tile's output, dY, gives
//
//  1. dM = A dY Aᵀ, the 6x6 gradient of M (winoGradOutput);
//  2. dU[p][ci][co] = Σ_tiles V[p][tile][ci] dM[p][tile][co]: for each of
//     the 36 cells, the weight gradient of a 1x1 convolution over the
//     tiles, run by the direct kernel's register blocks (convWeightsPart);
//  3. dg = Gᵀ dU G for every channel pair (winoUnpackGrad).
//
// That is 36 multiply-adds per tile and channel pair in step 2, against
// 144 for a direct weight gradient over the same 16 outputs. It runs on
// one goroutine, so the result does not depend on the number of cores.
func convWeightsWinograd(p *ConvPlan, width, block int, in, dz, dk []float32, s *ConvScratch) {
	ci, co := p.Ci, p.Co
	th, tw := p.winoTiles()
	n := th * tw
	nb := p.winoBlock(n)
	v, m := s.winoScratch(0, p, nb)
	if cap(s.du) < 36*ci*co {
		s.du = make([]float32, 36*ci*co)
	}
	du := s.du[:36*ci*co]
	clear(du)
	for b0 := 0; b0 < n; b0 += nb {
		nn := min(nb, n-b0)
		winoInput(p, width, b0, nn, nb, in, v)
		winoGradOutput(p, b0, nn, nb, dz, m)
		g := ConvPlan{Layer: p.Layer, InH: 1, InW: nb, Ci: ci, OutH: 1, OutW: nb, Co: co, LiveH: 1, LiveW: nn,
			KH: 1, KW: 1, SH: 1, SW: 1, Width: p.Width, Block: p.Block, Pixels: p.Pixels, L1: p.L1, L2: p.L2, Chunk: 4}
		for c := range 36 {
			convWeightsPart(&g, width, block, v[c*nb*ci:], m[c*nb*co:], du[c*ci*co:])
		}
	}
	winoUnpackGrad(ci, co, du, dk)
}

// winoGradOutput writes dM = A dY Aᵀ for the n tiles from t0 into m (cell
// c of tile t0+j at m[(c*nb+j)*Co]), from the output gradient dz, whose
// rows are OutW pixels long; pixels beyond the live outputs count as
// zeros. A's rows give m0 = y0, m1 = y0+y1+y2+y3, m2 = y0-y1+y2-y3,
// m3 = y0+2y1+4y2+8y3, m4 = y0-2y1+4y2-8y3 and m5 = y3.
func winoGradOutput(p *ConvPlan, t0, n, nb int, dz, m []float32) {
	_, tw := p.winoTiles()
	co := p.Co
	_ = dz[((p.LiveH-1)*p.OutW+p.LiveW)*co-1]
	_ = m[36*nb*co-1]
	two, four := archsimd.BroadcastFloat32x8(2), archsimd.BroadcastFloat32x8(4)
	// a1d applies A to y0..y3.
	a1d := func(y0, y1, y2, y3 archsimd.Float32x8) (m0, m1, m2, m3, m4, m5 archsimd.Float32x8) {
		s02, s13 := y0.Add(y2), y1.Add(y3)
		t02, t13 := y2.MulAdd(four, y0), y3.MulAdd(four, y1)
		return y0, s02.Add(s13), s02.Sub(s13), t13.MulAdd(two, t02), t02.Sub(t13.Mul(two)), y3
	}
	var tmp [6 * 4]archsimd.Float32x8
	var edge [16 * 8]float32
	rs, cs := p.OutW*co, co
	ms := nb * co
	for j := range n {
		ty, tx := (t0+j)/tw, (t0+j)%tw
		y0, x0 := 4*ty, 4*tx
		rows, cols := min(4, p.LiveH-y0), min(4, p.LiveW-x0)
		for c := 0; c < co; c += 8 {
			src, srs, scs := dz[(y0*p.OutW+x0)*co+c:], rs, cs
			if rows < 4 || cols < 4 {
				clear(edge[:])
				for y := range rows {
					for x := range cols {
						copy(edge[(y*4+x)*8:][:8], dz[((y0+y)*p.OutW+x0+x)*co+c:])
					}
				}
				src, srs, scs = edge[:], 32, 8
			}
			ld := func(y, x int) archsimd.Float32x8 {
				return archsimd.LoadFloat32x8((*[8]float32)(src[y*srs+x*scs:]))
			}
			// Columns: A times column x of dY into tmp[r][x].
			for x := range 4 {
				m0, m1, m2, m3, m4, m5 := a1d(ld(0, x), ld(1, x), ld(2, x), ld(3, x))
				tmp[x], tmp[4+x], tmp[8+x], tmp[12+x], tmp[16+x], tmp[20+x] = m0, m1, m2, m3, m4, m5
			}
			// Rows: row r of tmp times Aᵀ into cells (r, 0..5).
			for r := range 6 {
				m0, m1, m2, m3, m4, m5 := a1d(tmp[4*r], tmp[4*r+1], tmp[4*r+2], tmp[4*r+3])
				o := m[(6*r*nb+j)*co+c:]
				m0.Store((*[8]float32)(o))
				m1.Store((*[8]float32)(o[ms:]))
				m2.Store((*[8]float32)(o[2*ms:]))
				m3.Store((*[8]float32)(o[3*ms:]))
				m4.Store((*[8]float32)(o[4*ms:]))
				m5.Store((*[8]float32)(o[5*ms:]))
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// winoUnpackGrad adds dg = Gᵀ dU G, for every channel pair, into the HWIO
// kernel gradient dk; dU is [cell][ci][co].
func winoUnpackGrad(ci, co int, du, dk []float32) {
	var gv [6][3]archsimd.Float32x8
	for r := range 6 {
		for k := range 3 {
			gv[r][k] = archsimd.BroadcastFloat32x8(float32(winoG[r][k]))
		}
	}
	cells := ci * co
	_ = du[36*cells-1]
	_ = dk[9*cells-1]
	for c := range ci {
		for o := 0; o < co; o += 8 {
			base := c*co + o
			var acc [9]archsimd.Float32x8
			for r := range 6 {
				// t[kx] = Σ_s dU[r][s] G[s][kx]
				var t0, t1, t2 archsimd.Float32x8
				for s := range 6 {
					d := archsimd.LoadFloat32x8((*[8]float32)(du[(r*6+s)*cells+base:]))
					t0 = d.MulAdd(gv[s][0], t0)
					t1 = d.MulAdd(gv[s][1], t1)
					t2 = d.MulAdd(gv[s][2], t2)
				}
				// dg[ky][kx] += G[r][ky] t[kx]
				for ky := range 3 {
					acc[3*ky] = t0.MulAdd(gv[r][ky], acc[3*ky])
					acc[3*ky+1] = t1.MulAdd(gv[r][ky], acc[3*ky+1])
					acc[3*ky+2] = t2.MulAdd(gv[r][ky], acc[3*ky+2])
				}
			}
			for tap := range 9 {
				p := (*[8]float32)(dk[tap*cells+base:])
				archsimd.LoadFloat32x8(p).Add(acc[tap]).Store(p)
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}
