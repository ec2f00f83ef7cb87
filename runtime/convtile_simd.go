//go:build goexperiment.simd && amd64

package runtime

import (
	"fmt"
	goruntime "runtime"
	"simd/archsimd"
	"sync/atomic"
	"unsafe"
)

// hasAVX512 is true when the CPU runs the 16-float kernels of ConvTiled.
var hasAVX512 = archsimd.X86.AVX512()

// forceAVX2 makes ConvTiled run its 8-float kernels on any CPU, so that
// the tests check both paths on a machine with AVX-512.
var forceAVX2 = false

// vector returns the vector width and block of output channels this CPU
// runs p with: the plan's, or 8-float vectors and half the block for a
// 16-float plan on a CPU without AVX-512.
func (p *ConvPlan) vector() (width, block int) {
	if !hasAVX512 || forceAVX2 {
		return 8, p.Block * 8 / p.Width
	}
	return p.Width, p.Block
}

// ConvTiled computes the convolution that p plans: out = act(conv(in, k) +
// b) over the live outputs, with in the padded input (InH, InW, Ci) in HWC
// order, k the kernel in Keras's HWIO layout, b the bias (nil without one)
// and out (OutH, OutW, Co). The input must be followed by at least 3
// readable floats (the kernels load 4 floats to broadcast one). It
// splits the work across s.Par goroutines, and reads the kernel packed
// by pk, which the model's workers share.
func ConvTiled(p *ConvPlan, in, k, b, out []float32, pk *PackedConv, s *ConvScratch) {
	p.mustBeValid()
	width, block := p.vector()
	nb := p.Co / block
	par := max(s.Par, 1)
	if p.CiPad > p.Ci {
		in = s.widen(p, in, par)
	}
	if p.Winograd {
		packed := pk.acquire(p, k, block, packWinograd, s.equal)
		defer pk.release()
		convWinogradRun(p, width, block, par, in, b, out, packed, s)
		return
	}
	packed := pk.acquire(p, k, block, packForward, s.equal)
	defer pk.release()
	convTiledRun(p, width, block, nb, par, in, b, out, packed, s)
}

// ConvInputTiled computes the input gradient that gp plans into din (for
// a padded layer, its padded input gradient: only the interior is
// written), from the layer's kernel k (HWIO) and output gradient dz.
func ConvInputTiled(gp *ConvGradPlan, k, dz, din []float32, pk *PackedConv, s *ConvScratch) {
	p := &gp.Conv
	p.mustBeValid()
	width, block := p.vector()
	n := p.InH * p.InW * p.Ci
	if cap(s.pad) < n+4 {
		s.pad = make([]float32, n+4)
	}
	pad := s.pad[:n+4]
	clear(pad)
	for y := range gp.DzH {
		copy(pad[((gp.Top+y)*p.InW+gp.Left)*p.Ci:][:gp.DzW*p.Ci], dz[y*gp.DzW0*p.Ci:])
	}
	if p.Winograd {
		packed := pk.acquire(p, k, block, packWinogradFlipped, s.equal)
		defer pk.release()
		convWinogradRun(p, width, block, max(s.Par, 1), pad, nil, din, packed, s)
		return
	}
	packed := pk.acquire(p, k, block, packFlipped, s.equal)
	defer pk.release()
	convTiledRun(p, width, block, p.Co/block, max(s.Par, 1), pad, nil, din, packed, s)
}

// convTiledRun splits the channel blocks or the rows of a tiled
// convolution across par goroutines. With a fused pool (p.Pool), rows are
// the pooled rows, and each goroutine has its own buffer of two rows.
func convTiledRun(p *ConvPlan, width, block, nb, par int, in, b, out, packed []float32, s *ConvScratch) {
	rows := p.LiveH
	if p.Pool != 0 {
		rows = p.OutH / p.Pool
	}
	if par == 1 {
		convTiledPart(p, width, block, 0, nb, 0, rows, in, b, out, packed, s.rowBuf(0, p))
		return
	}
	// Split the channel blocks when there are enough to go round, which
	// keeps each goroutine's weight slabs apart; otherwise split the rows.
	j := tileJob{kind: jobConv, p: p, width: width, block: block, b0: 0, b1: nb, y0: 0, y1: rows,
		in: in, b: b, out: out, packed: packed}
	if nb >= par {
		j.splitBlocks, j.total, j.parts = true, nb, nb
	} else {
		j.total, j.parts = rows, splitParts(rows, par, 4)
	}
	s.runSplit(par, j)
}

// splitParts returns how many parts to split n units of work into for
// par goroutines: par times up to 4, with at least unit units a part.
func splitParts(n, par, unit int) int {
	return par * max(1, min(4, n/(par*unit)))
}

// runSplit runs the parts of j on par goroutines: the caller and the
// team's helpers. Goroutine g owns the g-th run of consecutive parts and
// takes them in order, so that it reads mostly what it wrote in the layer
// before; when its own are done it takes the last parts of the others.
// So a core slowed by another program (common on virtual machines: the
// two cores of one run here differed by up to 1.5 times) does less of
// the work. Every output is computed by the same operations whoever
// computes it. Each goroutine gets its own scratch (a fused pool's rows,
// Winograd's transforms).
func (s *ConvScratch) runSplit(par int, j tileJob) {
	par = min(par, j.parts)
	slots := s.helpers(par)
	if len(s.claims) < par {
		s.claims = make([]atomic.Uint64, par)
	}
	for g := range par {
		s.claims[g].Store(uint64(g*j.parts/par)<<32 | uint64((g+1)*j.parts/par))
	}
	j.claims = s.claims[:par]
	var own tileJob
	for g := range par {
		jg := j
		jg.g = g
		switch j.kind {
		case jobConv:
			jg.v = s.rowBuf(g, j.p)
		case jobWino:
			jg.v, jg.m = s.winoScratch(g, j.p, j.winoMaxBlock())
		}
		if g == 0 {
			own = jg
			continue
		}
		slots[g-1].post(jg)
	}
	own.run()
	for _, sl := range slots[:par-1] {
		sl.wait()
	}
	goruntime.KeepAlive(s) // its cleanup ends the helpers
}

// claim returns the next part for goroutine g of claims (each a range of
// parts, first<<32 | end), or -1 when none is left: the first of its own,
// or else the last of another's.
func claim(claims []atomic.Uint64, g int) int {
	for k := range len(claims) {
		c := &claims[(g+k)%len(claims)]
		for {
			v := c.Load()
			lo, hi := v>>32, v&(1<<32-1)
			if lo >= hi {
				break
			}
			if k == 0 {
				if c.CompareAndSwap(v, (lo+1)<<32|hi) {
					return int(lo)
				}
			} else if c.CompareAndSwap(v, lo<<32|(hi-1)) {
				return int(hi - 1)
			}
		}
	}
	return -1
}

// rowBuf returns part g's buffer for two rows of p's outputs when p fuses
// a pool, and nil otherwise.
func (s *ConvScratch) rowBuf(g int, p *ConvPlan) []float32 {
	if p.Pool == 0 {
		return nil
	}
	for len(s.rows) <= g {
		s.rows = append(s.rows, nil)
	}
	n := 2 * p.LiveW * p.Co
	if cap(s.rows[g]) < n {
		s.rows[g] = make([]float32, n)
	}
	return s.rows[g][:n]
}

// tileJob is one goroutine's part of a split call, by kind: for jobConv
// the channel blocks [b0, b1) of a tiled convolution over rows [y0, y1);
// for jobWino the tiles [b0, b1) of a Winograd convolution, whose
// transforms go into v and m (for jobConv, v is the buffer of a fused
// pool's rows); for jobEqual the comparison of in and out
// into eq; for jobWiden the input pixels [b0, b1) widened into out (split
// as blocks).
type tileJob struct {
	kind               int
	p                  *ConvPlan
	width, block       int
	b0, b1, y0, y1     int
	in, b, out, packed []float32
	v, m               []float32
	eq                 *bool
	// claims, when set, makes run claim parts of total units of work as
	// goroutine g (parts of them: channel blocks with splitBlocks, rows or
	// tiles otherwise) until none is left.
	claims      []atomic.Uint64
	g           int
	total       int
	parts       int
	splitBlocks bool
}

// The kinds of tileJob.
const (
	jobConv = iota
	jobWino
	jobEqual
	jobWiden
)

// equal reports whether a and b hold the same bits, split across s.Par
// goroutines when they are large: the check that a packed kernel is
// current runs on every pass, and for one image on every core.
func (s *ConvScratch) equal(a, b []float32) bool {
	par := max(s.Par, 1)
	if par == 1 || len(a) < 1<<16 || len(a) != len(b) {
		return equalBits(a, b)
	}
	if len(s.eq) < par {
		s.eq = make([]bool, par)
	}
	eq, n := s.eq[:par], len(a)
	slots := s.helpers(par)
	for g := 1; g < par; g++ {
		lo, hi := g*n/par, (g+1)*n/par
		slots[g-1].post(tileJob{kind: jobEqual, in: a[lo:hi], out: b[lo:hi], eq: &eq[g]})
	}
	eq[0] = equalBits(a[:n/par], b[:n/par])
	for _, sl := range slots {
		sl.wait()
	}
	goruntime.KeepAlive(s) // its cleanup ends the helpers
	for _, e := range eq {
		if !e {
			return false
		}
	}
	return true
}

func (j *tileJob) run() {
	if j.claims == nil {
		j.runPart()
		return
	}
	for {
		k := claim(j.claims, j.g)
		if k < 0 {
			return
		}
		lo, hi := k*j.total/j.parts, (k+1)*j.total/j.parts
		switch {
		case j.splitBlocks, j.kind == jobWino:
			j.b0, j.b1 = lo, hi
		default:
			j.y0, j.y1 = lo, hi
		}
		j.runPart()
	}
}

// winoMaxBlock returns the largest block of tiles that a part of j can
// have (winoBlock of either part size).
func (j *tileJob) winoMaxBlock() int {
	lo := j.total / j.parts
	return max(j.p.winoBlock(lo), j.p.winoBlock(min(lo+1, j.total)))
}

func (j *tileJob) runPart() {
	switch j.kind {
	case jobConv:
		convTiledPart(j.p, j.width, j.block, j.b0, j.b1, j.y0, j.y1, j.in, j.b, j.out, j.packed, j.v)
	case jobWino:
		convWinogradPart(j.p, j.width, j.block, j.b0, j.b1, j.in, j.b, j.out, j.packed, j.v, j.m)
	case jobEqual:
		*j.eq = equalBits(j.in, j.out)
	case jobWiden:
		widenPixels(j.p, j.in, j.out, j.b0, j.b1)
	}
}

// convTiledPart runs the channel blocks [b0, b1) over the output rows
// [y0, y1), or with a fused pool (p.Pool) over the pooled rows [y0, y1),
// whose two rows of outputs go through rowbuf.
func convTiledPart(p *ConvPlan, width, block, b0, b1, y0, y1 int, in, b, out, packed, rowbuf []float32) {
	ci, co := max(p.CiPad, p.Ci), p.Co
	taps := p.KH * p.KW
	cs := uintptr(ci * 4)
	rs := uintptr(p.InW * ci * 4)
	pix := uintptr(p.SW) * cs
	ops := uintptr(co * 4)
	tapw := uintptr(ci * block * 4)
	// The register blocks: 2 pixels x 4 vectors, or 4 pixels x 2 vectors.
	mkn, mk1, step := tile2x16, tile1x16, 2
	switch {
	case width == 8 && block == 32:
		mkn, mk1 = tile2x8, tile1x8
	case width == 16 && block == 32:
		mkn, mk1, step = tile4x16n2, tile1x16n2, 4
	case width == 8 && block == 16:
		mkn, mk1, step = tile4x8n2, tile1x8n2, 4
	}
	_ = in[p.InH*p.InW*ci-1]
	ostride := p.outStride()
	if p.Pool != 0 {
		_ = out[(p.OutH/p.Pool)*(p.OutW/p.Pool)*co-1]
		_ = rowbuf[2*p.LiveW*co-1]
	} else {
		_ = out[p.OutOffset+((p.LiveH-1)*ostride+p.LiveW)*co-1]
	}
	_ = packed[taps*ci*co-1]
	chunkOuter := p.Pool == 0 && p.chunkOuter(y1-y0)
	// When one chunk holds every input channel, the KW taps of a kernel
	// row read KW*ci consecutive input floats (KW neighbouring pixels)
	// against KW*ci consecutive rows of packed weights: the register block
	// takes them as one tap of KW*ci channels, in the same order, which
	// saves the loop of each tap (a first layer's 4 channels a tap make
	// that loop most of the work).
	kw, nci, tapwm := p.KW, p.Chunk, tapw
	if p.Chunk == ci {
		kw, nci, tapwm = 1, p.KW*ci, uintptr(p.KW)*tapw
	}
	for cb := b0; cb < b1; cb++ {
		slab := packed[cb*taps*ci*block:]
		var bias unsafe.Pointer
		if b != nil {
			bias = unsafe.Pointer(&b[cb*block])
		}
		wb := unsafe.Pointer(&slab[0])
		// pass computes chunk c0 of output row y, cols columns of it, into
		// the row at ob.
		pass := func(y, c0, cols int, ob unsafe.Pointer) {
			first, last := c0 == 0, c0+p.Chunk == ci
			relu := last && p.ReLU
			ib := unsafe.Pointer(&in[y*p.SH*p.InW*ci+c0])
			wt := unsafe.Add(wb, c0*block*4)
			x := 0
			for ; x+step <= cols; x += step {
				mkn(unsafe.Add(ib, uintptr(x)*pix), wt, unsafe.Add(ob, uintptr(x)*ops), bias, nci, pix, cs, rs, tapwm, ops, p.KH, kw, first, relu)
			}
			for ; x < cols; x++ {
				mk1(unsafe.Add(ib, uintptr(x)*pix), wt, unsafe.Add(ob, uintptr(x)*ops), bias, nci, pix, cs, rs, tapwm, ops, p.KH, kw, first, relu)
			}
		}
		row := func(y int) unsafe.Pointer { return unsafe.Pointer(&out[p.OutOffset+(y*ostride)*co+cb*block]) }
		switch {
		case p.Pool != 0:
			// Rows 2py and 2py+1, then the maximum of each 2x2 window, in
			// the order the pool takes it.
			pw := p.OutW / p.Pool
			for py := y0; py < y1; py++ {
				for r := range 2 {
					ob := unsafe.Pointer(&rowbuf[r*p.LiveW*co+cb*block])
					for c0 := 0; c0 < ci; c0 += p.Chunk {
						pass(2*py+r, c0, 2*pw, ob)
					}
				}
				r1 := p.LiveW * co
				for px := range pw {
					a, o := 2*px*co, (py*pw+px)*co
					for v := cb * block; v < (cb+1)*block; v += 8 {
						m := archsimd.LoadFloat32x8((*[8]float32)(rowbuf[a+v:]))
						m = m.Max(archsimd.LoadFloat32x8((*[8]float32)(rowbuf[a+co+v:])))
						m = m.Max(archsimd.LoadFloat32x8((*[8]float32)(rowbuf[r1+a+v:])))
						m = m.Max(archsimd.LoadFloat32x8((*[8]float32)(rowbuf[r1+a+co+v:])))
						m.Store((*[8]float32)(out[o+v:]))
					}
				}
			}
		case chunkOuter:
			for c0 := 0; c0 < ci; c0 += p.Chunk {
				for y := y0; y < y1; y++ {
					pass(y, c0, p.LiveW, row(y))
				}
			}
		default:
			for y := y0; y < y1; y++ {
				for c0 := 0; c0 < ci; c0 += p.Chunk {
					pass(y, c0, p.LiveW, row(y))
				}
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// ConvWeightsTiled adds the gradients of the kernel (HWIO) and of the bias
// (db; nil without one) of the convolution that p plans into dk and db,
// from its padded input in and the output gradient dz over the live
// outputs. Register blocks of 2 input channels x 4 vectors of output
// channels run over bands of output rows whose gradients stay in L1
// while every tap and input channel reads them. A Winograd plan with
// enough tiles computes the kernel's gradient through Winograd's F(4x4,
// 3x3) as well (convWeightsWinograd).
func ConvWeightsTiled(p *ConvPlan, in, dz, dk, db []float32, s *ConvScratch) {
	p.mustBeValid()
	if p.Block != 4*p.Width {
		panic("convc: the tiled weight gradient runs blocks of 4 vectors; " + p.Layer + " has " + fmt.Sprint(p.Block/p.Width))
	}
	if p.CiPad > p.Ci {
		panic("convc: the tiled weight gradient reads the input unwidened; " + p.Layer + " has CiPad")
	}
	width, block := p.vector()
	_ = in[p.InH*p.InW*p.Ci-1]
	_ = dz[((p.LiveH-1)*p.OutW+p.LiveW)*p.Co-1]
	_ = dk[p.KH*p.KW*p.Ci*p.Co-1]
	if p.winogradWeights() {
		convWeightsWinograd(p, width, block, in, dz, dk, s)
	} else {
		convWeightsPart(p, width, block, in, dz, dk)
	}
	convBiasGrad(p, dz, db)
}

// convWeightsPart adds the kernel gradient of p into dk, directly.
func convWeightsPart(p *ConvPlan, width, block int, in, dz, dk []float32) {
	mk := wgrad2x16
	if width == 8 {
		mk = wgrad2x8
	}
	ci, co := p.Ci, p.Co
	cs := uintptr(ci * 4)
	pix := uintptr(p.SW) * cs
	arow := uintptr(p.SH*p.InW*ci*4) - uintptr(p.LiveW-1)*pix
	dzp := uintptr(co * 4)
	dzrow := uintptr((p.OutW - p.LiveW + 1) * co * 4)
	band := max(1, p.L1/2/(p.LiveW*block*4))
	_ = in[p.InH*p.InW*ci-1]
	_ = dz[((p.LiveH-1)*p.OutW+p.LiveW)*co-1]
	_ = dk[p.KH*p.KW*ci*co-1]
	for cb := range co / block {
		for y0 := 0; y0 < p.LiveH; y0 += band {
			rows := min(band, p.LiveH-y0)
			d := unsafe.Pointer(&dz[y0*p.OutW*co+cb*block])
			for ky := range p.KH {
				for kx := range p.KW {
					t := ky*p.KW + kx
					for c := 0; c < ci; c += 2 {
						a := unsafe.Pointer(&in[((y0*p.SH+ky)*p.InW+kx)*ci+c])
						mk(a, d, unsafe.Pointer(&dk[(t*ci+c)*co+cb*block]), rows, p.LiveW, pix, arow, dzp, dzrow, uintptr(co*4))
					}
				}
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// convBiasGrad adds the bias gradient of p, the sum of dz over the live
// outputs, into db (nil without a bias).
func convBiasGrad(p *ConvPlan, dz, db []float32) {
	co := p.Co
	if db == nil {
		return
	}
	_ = db[co-1]
	for y := range p.LiveH {
		for x := range p.LiveW {
			row := dz[(y*p.OutW+x)*co : (y*p.OutW+x+1)*co]
			for o, v := range row {
				db[o] += v
			}
		}
	}
}

// widen returns in (InH, InW, Ci) with each pixel widened to CiPad
// channels, the new ones zero, in the scratch, followed by 4 floats of
// slack. The pixels are split across par goroutines.
func (s *ConvScratch) widen(p *ConvPlan, in []float32, par int) []float32 {
	px := p.InH * p.InW
	n := px * p.CiPad
	if cap(s.blk) < n+4 {
		s.blk = make([]float32, n+4)
	}
	w := s.blk[:n+4]
	if par == 1 || px < 4096 {
		widenPixels(p, in, w, 0, px)
		return w
	}
	s.runSplit(par, tileJob{kind: jobWiden, p: p, in: in, out: w, total: px, parts: par, splitBlocks: true})
	return w
}

// widenPixels writes the pixels [i0, i1) of in widened to CiPad channels
// into w.
func widenPixels(p *ConvPlan, in, w []float32, i0, i1 int) {
	ci, cp := p.Ci, p.CiPad
	if ci == 3 && cp == 4 {
		// RGB, the usual first layer.
		src, dst := in[i0*3:i1*3], w[i0*4:i1*4]
		for i := 0; i+3 <= len(src) && i/3*4+4 <= len(dst); i += 3 {
			d := dst[i/3*4 : i/3*4+4]
			d[0], d[1], d[2], d[3] = src[i], src[i+1], src[i+2], 0
		}
		return
	}
	for i := i0; i < i1; i++ {
		d := w[i*cp : (i+1)*cp]
		copy(d, in[i*ci:(i+1)*ci])
		clear(d[ci:])
	}
}
