//go:build goexperiment.simd && amd64

package runtime

import (
	"simd/archsimd"
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
// across goroutines and computed in blocks whose V and M fit in half of
// L2; every output is computed by the same operations in the same order
// whatever the split, so the results do not depend on the number of
// goroutines. The transforms run on 8-float vectors on any CPU.

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
	tileHelpers.Do(startTileHelpers)
	wg := &s.wg
	var own tileJob
	for g := range par {
		t0, t1 := g*n/par, (g+1)*n/par
		v, m := s.winoScratch(g, p, p.winoBlock(t1-t0))
		j := tileJob{p: p, width: width, block: block, wino: true, b0: t0, b1: t1,
			in: in, b: b, out: out, packed: packed, v: v, m: m, wg: wg}
		if g == 0 {
			own = j
			continue
		}
		wg.Add(1)
		tileJobs <- j
	}
	own.run()
	wg.Wait()
}

// convWinogradPart computes the tiles [t0, t1) in blocks.
func convWinogradPart(p *ConvPlan, width, block, t0, t1 int, in, b, out, packed, v, m []float32) {
	nb := p.winoBlock(t1 - t0)
	for b0 := t0; b0 < t1; b0 += nb {
		n := min(nb, t1-b0)
		winoInput(p, b0, n, nb, in, v)
		g := p.winoGEMM(n)
		for c := range 36 {
			vp := v[c*nb*p.Ci:]
			mp := m[c*nb*p.Co:]
			convTiledPart(&g, width, block, 0, p.Co/block, 0, 1, vp, nil, mp, packed[c*p.Ci*p.Co:])
		}
		winoOutput(p, b0, n, nb, b, m, out)
	}
}

// winoInput writes V for the n tiles from t0: V[c][j][ci] for cell c of
// tile t0+j. Input pixels beyond the input (the last tiles' overhang) are
// zeros.
func winoInput(p *ConvPlan, t0, n, nb int, in, v []float32) {
	_, tw := p.winoTiles()
	ci := p.Ci
	var zero archsimd.Float32x8
	four, five := archsimd.BroadcastFloat32x8(4), archsimd.BroadcastFloat32x8(5)
	two := archsimd.BroadcastFloat32x8(2)
	var t [36]archsimd.Float32x8
	for j := range n {
		ty, tx := (t0+j)/tw, (t0+j)%tw
		y0, x0 := 4*ty, 4*tx
		rows := min(6, p.InH-y0)
		cols := min(6, p.InW-x0)
		for c := 0; c < ci; c += 8 {
			// t = Bᵀ d, column by column.
			for x := range 6 {
				var d [6]archsimd.Float32x8
				if x < cols {
					for y := range rows {
						d[y] = archsimd.LoadFloat32x8((*[8]float32)(in[((y0+y)*p.InW+x0+x)*ci+c:]))
					}
				}
				d0, d1, d2, d3, d4, d5 := d[0], d[1], d[2], d[3], d[4], d[5]
				t[x] = d0.Mul(four).Sub(d2.Mul(five)).Add(d4)
				a, bb := d3.Add(d4), d1.Add(d2)
				t[6+x] = a.Sub(bb.Mul(four))
				a, bb = d4.Sub(d3), d1.Sub(d2)
				t[12+x] = a.Add(bb.Mul(four))
				a, bb = d4.Sub(d2), d3.Sub(d1)
				t[18+x] = a.Add(bb.Mul(two))
				t[24+x] = a.Sub(bb.Mul(two))
				t[30+x] = d1.Mul(four).Sub(d3.Mul(five)).Add(d5)
			}
			_ = zero
			// V = t B, row by row.
			for r := range 6 {
				d0, d1, d2, d3, d4, d5 := t[r*6], t[r*6+1], t[r*6+2], t[r*6+3], t[r*6+4], t[r*6+5]
				o := ((r*6)*nb+j)*ci + c
				st := nb * ci
				d0.Mul(four).Sub(d2.Mul(five)).Add(d4).Store((*[8]float32)(v[o:]))
				a, bb := d3.Add(d4), d1.Add(d2)
				a.Sub(bb.Mul(four)).Store((*[8]float32)(v[o+st:]))
				a, bb = d4.Sub(d3), d1.Sub(d2)
				a.Add(bb.Mul(four)).Store((*[8]float32)(v[o+2*st:]))
				a, bb = d4.Sub(d2), d3.Sub(d1)
				a.Add(bb.Mul(two)).Store((*[8]float32)(v[o+3*st:]))
				a.Sub(bb.Mul(two)).Store((*[8]float32)(v[o+4*st:]))
				d1.Mul(four).Sub(d3.Mul(five)).Add(d5).Store((*[8]float32)(v[o+5*st:]))
			}
		}
	}
}

// winoOutput computes Y = Aᵀ M A for the n tiles from t0, adds the bias,
// applies ReLU when the plan fuses it, and stores the live pixels.
func winoOutput(p *ConvPlan, t0, n, nb int, b, m, out []float32) {
	_, tw := p.winoTiles()
	co := p.Co
	ostride := p.outStride()
	two, four, eight := archsimd.BroadcastFloat32x8(2), archsimd.BroadcastFloat32x8(4), archsimd.BroadcastFloat32x8(8)
	var zero archsimd.Float32x8
	st := nb * co
	var t [24]archsimd.Float32x8
	for j := range n {
		ty, tx := (t0+j)/tw, (t0+j)%tw
		y0, x0 := 4*ty, 4*tx
		rows := min(4, p.LiveH-y0)
		cols := min(4, p.LiveW-x0)
		for c := 0; c < co; c += 8 {
			// t = Aᵀ M, column by column.
			for x := range 6 {
				o := (x*nb+j)*co + c
				m0 := archsimd.LoadFloat32x8((*[8]float32)(m[o:]))
				m1 := archsimd.LoadFloat32x8((*[8]float32)(m[o+6*st:]))
				m2 := archsimd.LoadFloat32x8((*[8]float32)(m[o+12*st:]))
				m3 := archsimd.LoadFloat32x8((*[8]float32)(m[o+18*st:]))
				m4 := archsimd.LoadFloat32x8((*[8]float32)(m[o+24*st:]))
				m5 := archsimd.LoadFloat32x8((*[8]float32)(m[o+30*st:]))
				s12, d12 := m1.Add(m2), m1.Sub(m2)
				s34, d34 := m3.Add(m4), m3.Sub(m4)
				t[x] = m0.Add(s12).Add(s34)
				t[6+x] = d34.MulAdd(two, d12)
				t[12+x] = s34.MulAdd(four, s12)
				t[18+x] = d34.MulAdd(eight, d12).Add(m5)
			}
			var bias archsimd.Float32x8
			if b != nil {
				bias = archsimd.LoadFloat32x8((*[8]float32)(b[c:]))
			}
			// Y = t A, row by row.
			for r := range rows {
				m0, m1, m2, m3, m4, m5 := t[r*6], t[r*6+1], t[r*6+2], t[r*6+3], t[r*6+4], t[r*6+5]
				s12, d12 := m1.Add(m2), m1.Sub(m2)
				s34, d34 := m3.Add(m4), m3.Sub(m4)
				y := [4]archsimd.Float32x8{
					m0.Add(s12).Add(s34).Add(bias),
					d34.MulAdd(two, d12).Add(bias),
					s34.MulAdd(four, s12).Add(bias),
					d34.MulAdd(eight, d12).Add(m5).Add(bias),
				}
				o := p.OutOffset + ((y0+r)*ostride+x0)*co + c
				for x := range cols {
					v := y[x]
					if p.ReLU {
						v = v.Max(zero)
					}
					v.Store((*[8]float32)(out[o+x*co:]))
				}
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}
