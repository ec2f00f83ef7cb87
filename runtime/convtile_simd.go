//go:build goexperiment.simd && amd64

package runtime

import (
	goruntime "runtime"
	"simd/archsimd"
	"sync"
	"unsafe"
)

// hasAVX512 is true when the CPU runs the 16-float kernels of ConvTiled.
var hasAVX512 = archsimd.X86.AVX512()

// forceAVX2 makes ConvTiled run its 8-float kernels on any CPU, so that
// the tests check both paths on a machine with AVX-512.
var forceAVX2 = false

// ConvTiled computes the convolution that p plans: out = act(conv(in, k) +
// b) over the live outputs, with in the padded input (InH, InW, Ci) in HWC
// order, k the kernel in Keras's HWIO layout, b the bias (nil without one)
// and out (OutH, OutW, Co). The input must be followed by at least 3
// readable floats (the kernels load 4 floats to broadcast one). It
// splits the work across s.Par goroutines, and reads the kernel packed
// by pk, which the model's workers share.
func ConvTiled(p *ConvPlan, in, k, b, out []float32, pk *PackedConv, s *ConvScratch) {
	p.mustBeValid()
	width, block := p.Width, p.Block
	if !hasAVX512 || forceAVX2 {
		width, block = 8, p.Block*8/p.Width
	}
	nb := p.Co / block
	par := max(s.Par, 1)
	if p.CiPad > p.Ci {
		in = s.widen(p, in)
	}
	packed := pk.acquire(p, k, block, false)
	defer pk.release()
	convTiledRun(p, width, block, nb, par, in, b, out, packed, s)
}

// ConvInputTiled computes the input gradient that gp plans into din (for
// a padded layer, its padded input gradient: only the interior is
// written), from the layer's kernel k (HWIO) and output gradient dz.
func ConvInputTiled(gp *ConvGradPlan, k, dz, din []float32, pk *PackedConv, s *ConvScratch) {
	p := &gp.Conv
	p.mustBeValid()
	width, block := p.Width, p.Block
	if !hasAVX512 || forceAVX2 {
		width, block = 8, p.Block*8/p.Width
	}
	n := p.InH * p.InW * p.Ci
	if cap(s.pad) < n+4 {
		s.pad = make([]float32, n+4)
	}
	pad := s.pad[:n+4]
	clear(pad)
	for y := range gp.DzH {
		copy(pad[((gp.Top+y)*p.InW+gp.Left)*p.Ci:][:gp.DzW*p.Ci], dz[y*gp.DzW0*p.Ci:])
	}
	packed := pk.acquire(p, k, block, true)
	defer pk.release()
	convTiledRun(p, width, block, p.Co/block, max(s.Par, 1), pad, nil, din, packed, s)
}

// convTiledRun splits the channel blocks or the rows of a tiled
// convolution across par goroutines.
func convTiledRun(p *ConvPlan, width, block, nb, par int, in, b, out, packed []float32, s *ConvScratch) {
	if par == 1 {
		convTiledPart(p, width, block, 0, nb, 0, p.LiveH, in, b, out, packed)
		return
	}
	// Split the channel blocks when there are enough to go round, which
	// keeps each goroutine's weight slabs apart; otherwise split the rows.
	// The caller runs part 0; helpers, started once, run the others.
	tileHelpers.Do(startTileHelpers)
	wg := &s.wg
	var own tileJob
	for g := range par {
		j := tileJob{p: p, width: width, block: block, b0: 0, b1: nb, y0: 0, y1: p.LiveH,
			in: in, b: b, out: out, packed: packed, wg: wg}
		if nb >= par {
			j.b0, j.b1 = g*nb/par, (g+1)*nb/par
		} else {
			j.y0, j.y1 = g*p.LiveH/par, (g+1)*p.LiveH/par
		}
		if j.b0 == j.b1 || j.y0 == j.y1 {
			continue
		}
		if g == 0 {
			own = j
			continue
		}
		wg.Add(1)
		tileJobs <- j
	}
	if own.p != nil {
		own.run()
	}
	wg.Wait()
}

// tileJob is one goroutine's part of a ConvTiled call.
type tileJob struct {
	p                  *ConvPlan
	width, block       int
	b0, b1, y0, y1     int
	in, b, out, packed []float32
	wg                 *sync.WaitGroup
}

func (j *tileJob) run() {
	convTiledPart(j.p, j.width, j.block, j.b0, j.b1, j.y0, j.y1, j.in, j.b, j.out, j.packed)
}

var (
	tileHelpers sync.Once
	tileJobs    chan tileJob
)

// startTileHelpers starts the goroutines that run the parts of parallel
// ConvTiled calls; they live as long as the program.
func startTileHelpers() {
	tileJobs = make(chan tileJob)
	for range max(goruntime.GOMAXPROCS(0), 2) {
		go func() {
			for j := range tileJobs {
				j.run()
				j.wg.Done()
			}
		}()
	}
}

// convTiledPart runs the channel blocks [b0, b1) over the output rows
// [y0, y1).
func convTiledPart(p *ConvPlan, width, block, b0, b1, y0, y1 int, in, b, out, packed []float32) {
	ci, co := max(p.CiPad, p.Ci), p.Co
	taps := p.KH * p.KW
	cs := uintptr(ci * 4)
	rs := uintptr(p.InW * ci * 4)
	pix := uintptr(p.SW) * cs
	ops := uintptr(co * 4)
	tapw := uintptr(ci * block * 4)
	mk2, mk1 := tile2x16, tile1x16
	if width == 8 {
		mk2, mk1 = tile2x8, tile1x8
	}
	_ = in[p.InH*p.InW*ci-1]
	ostride := p.outStride()
	_ = out[p.OutOffset+((p.LiveH-1)*ostride+p.LiveW)*co-1]
	_ = packed[taps*ci*co-1]
	chunkOuter := p.chunkOuter(y1 - y0)
	for cb := b0; cb < b1; cb++ {
		slab := packed[cb*taps*ci*block:]
		var bias unsafe.Pointer
		if b != nil {
			bias = unsafe.Pointer(&b[cb*block])
		}
		wb := unsafe.Pointer(&slab[0])
		pass := func(y, c0 int) {
			first, last := c0 == 0, c0+p.Chunk == ci
			relu := last && p.ReLU
			ib := unsafe.Pointer(&in[y*p.SH*p.InW*ci+c0])
			ob := unsafe.Pointer(&out[p.OutOffset+(y*ostride)*co+cb*block])
			wt := unsafe.Add(wb, c0*block*4)
			x := 0
			for ; x+2 <= p.LiveW; x += 2 {
				mk2(unsafe.Add(ib, uintptr(x)*pix), wt, unsafe.Add(ob, uintptr(x)*ops), bias, p.Chunk, pix, cs, rs, tapw, ops, p.KH, p.KW, first, relu)
			}
			if x < p.LiveW {
				mk1(unsafe.Add(ib, uintptr(x)*pix), wt, unsafe.Add(ob, uintptr(x)*ops), bias, p.Chunk, pix, cs, rs, tapw, ops, p.KH, p.KW, first, relu)
			}
		}
		if chunkOuter {
			for c0 := 0; c0 < ci; c0 += p.Chunk {
				for y := y0; y < y1; y++ {
					pass(y, c0)
				}
			}
			continue
		}
		for y := y0; y < y1; y++ {
			for c0 := 0; c0 < ci; c0 += p.Chunk {
				pass(y, c0)
			}
		}
	}
	archsimd.ClearAVXUpperBits()
}

// tile2x16 is the register block of 2 output pixels x 4 Float32x16 vectors of output
// channels. in points at the first pixel's input at the chunk's first channel,
// wt at the chunk's packed weights of tap 0, out at the first pixel's output.
func tile2x16(in, wt, out, bias unsafe.Pointer, nci int, pix, cs, rs, tapw, ops uintptr, kh, kw int, first, relu bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13 archsimd.Float32x16
	out1 := unsafe.Add(out, ops)
	if !first {
		c00 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out, 0)))
		c01 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out, 64)))
		c02 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out, 128)))
		c03 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out, 192)))
		c10 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out1, 0)))
		c11 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out1, 64)))
		c12 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out1, 128)))
		c13 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out1, 192)))
	} else if bias != nil {
		c00 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(bias, 0)))
		c01 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(bias, 64)))
		c02 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(bias, 128)))
		c03 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(bias, 192)))
		c10 = c00
		c11 = c01
		c12 = c02
		c13 = c03
	}
	ws := uintptr(4 * 64)
	for ky := 0; ky < kh; ky++ {
		for kx := 0; kx < kw; kx++ {
			a0 := unsafe.Add(in, uintptr(ky)*rs+uintptr(kx)*cs)
			a1 := unsafe.Add(a0, pix)
			b := unsafe.Add(wt, uintptr(ky*kw+kx)*tapw)
			for n := nci >> 2; ; {
				x0 := archsimd.LoadFloat32x4((*[4]float32)(a0)).Broadcast1To16()
				x1 := archsimd.LoadFloat32x4((*[4]float32)(a1)).Broadcast1To16()
				w := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 0)))
				c00 = w.MulAdd(x0, c00)
				c10 = w.MulAdd(x1, c10)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 64)))
				c01 = w.MulAdd(x0, c01)
				c11 = w.MulAdd(x1, c11)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 128)))
				c02 = w.MulAdd(x0, c02)
				c12 = w.MulAdd(x1, c12)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 192)))
				c03 = w.MulAdd(x0, c03)
				c13 = w.MulAdd(x1, c13)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 4))).Broadcast1To16()
				x1 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a1, 4))).Broadcast1To16()
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 256)))
				c00 = w.MulAdd(x0, c00)
				c10 = w.MulAdd(x1, c10)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 320)))
				c01 = w.MulAdd(x0, c01)
				c11 = w.MulAdd(x1, c11)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 384)))
				c02 = w.MulAdd(x0, c02)
				c12 = w.MulAdd(x1, c12)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 448)))
				c03 = w.MulAdd(x0, c03)
				c13 = w.MulAdd(x1, c13)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 8))).Broadcast1To16()
				x1 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a1, 8))).Broadcast1To16()
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 512)))
				c00 = w.MulAdd(x0, c00)
				c10 = w.MulAdd(x1, c10)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 576)))
				c01 = w.MulAdd(x0, c01)
				c11 = w.MulAdd(x1, c11)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 640)))
				c02 = w.MulAdd(x0, c02)
				c12 = w.MulAdd(x1, c12)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 704)))
				c03 = w.MulAdd(x0, c03)
				c13 = w.MulAdd(x1, c13)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 12))).Broadcast1To16()
				x1 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a1, 12))).Broadcast1To16()
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 768)))
				c00 = w.MulAdd(x0, c00)
				c10 = w.MulAdd(x1, c10)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 832)))
				c01 = w.MulAdd(x0, c01)
				c11 = w.MulAdd(x1, c11)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 896)))
				c02 = w.MulAdd(x0, c02)
				c12 = w.MulAdd(x1, c12)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 960)))
				c03 = w.MulAdd(x0, c03)
				c13 = w.MulAdd(x1, c13)
				n--
				if n == 0 {
					break
				}
				b = unsafe.Add(b, 4*ws)
				a0 = unsafe.Add(a0, 16)
				a1 = unsafe.Add(a1, 16)
			}
		}
	}
	if relu {
		var z archsimd.Float32x16
		c00 = c00.Max(z)
		c01 = c01.Max(z)
		c02 = c02.Max(z)
		c03 = c03.Max(z)
		c10 = c10.Max(z)
		c11 = c11.Max(z)
		c12 = c12.Max(z)
		c13 = c13.Max(z)
	}
	c00.Store((*[16]float32)(unsafe.Add(out, 0)))
	c01.Store((*[16]float32)(unsafe.Add(out, 64)))
	c02.Store((*[16]float32)(unsafe.Add(out, 128)))
	c03.Store((*[16]float32)(unsafe.Add(out, 192)))
	c10.Store((*[16]float32)(unsafe.Add(out1, 0)))
	c11.Store((*[16]float32)(unsafe.Add(out1, 64)))
	c12.Store((*[16]float32)(unsafe.Add(out1, 128)))
	c13.Store((*[16]float32)(unsafe.Add(out1, 192)))
}

// tile1x16 is the register block of 1 output pixel x 4 Float32x16 vectors of output
// channels. in points at the first pixel's input at the chunk's first channel,
// wt at the chunk's packed weights of tap 0, out at the first pixel's output.
func tile1x16(in, wt, out, bias unsafe.Pointer, nci int, pix, cs, rs, tapw, ops uintptr, kh, kw int, first, relu bool) {
	var c00, c01, c02, c03 archsimd.Float32x16
	if !first {
		c00 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out, 0)))
		c01 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out, 64)))
		c02 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out, 128)))
		c03 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(out, 192)))
	} else if bias != nil {
		c00 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(bias, 0)))
		c01 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(bias, 64)))
		c02 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(bias, 128)))
		c03 = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(bias, 192)))
	}
	ws := uintptr(4 * 64)
	for ky := 0; ky < kh; ky++ {
		for kx := 0; kx < kw; kx++ {
			a0 := unsafe.Add(in, uintptr(ky)*rs+uintptr(kx)*cs)
			b := unsafe.Add(wt, uintptr(ky*kw+kx)*tapw)
			for n := nci >> 2; ; {
				x0 := archsimd.LoadFloat32x4((*[4]float32)(a0)).Broadcast1To16()
				w := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 0)))
				c00 = w.MulAdd(x0, c00)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 64)))
				c01 = w.MulAdd(x0, c01)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 128)))
				c02 = w.MulAdd(x0, c02)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 192)))
				c03 = w.MulAdd(x0, c03)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 4))).Broadcast1To16()
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 256)))
				c00 = w.MulAdd(x0, c00)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 320)))
				c01 = w.MulAdd(x0, c01)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 384)))
				c02 = w.MulAdd(x0, c02)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 448)))
				c03 = w.MulAdd(x0, c03)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 8))).Broadcast1To16()
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 512)))
				c00 = w.MulAdd(x0, c00)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 576)))
				c01 = w.MulAdd(x0, c01)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 640)))
				c02 = w.MulAdd(x0, c02)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 704)))
				c03 = w.MulAdd(x0, c03)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 12))).Broadcast1To16()
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 768)))
				c00 = w.MulAdd(x0, c00)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 832)))
				c01 = w.MulAdd(x0, c01)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 896)))
				c02 = w.MulAdd(x0, c02)
				w = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(b, 960)))
				c03 = w.MulAdd(x0, c03)
				n--
				if n == 0 {
					break
				}
				b = unsafe.Add(b, 4*ws)
				a0 = unsafe.Add(a0, 16)
			}
		}
	}
	if relu {
		var z archsimd.Float32x16
		c00 = c00.Max(z)
		c01 = c01.Max(z)
		c02 = c02.Max(z)
		c03 = c03.Max(z)
	}
	c00.Store((*[16]float32)(unsafe.Add(out, 0)))
	c01.Store((*[16]float32)(unsafe.Add(out, 64)))
	c02.Store((*[16]float32)(unsafe.Add(out, 128)))
	c03.Store((*[16]float32)(unsafe.Add(out, 192)))
}

// tile2x8 is the register block of 2 output pixels x 4 Float32x8 vectors of output
// channels. in points at the first pixel's input at the chunk's first channel,
// wt at the chunk's packed weights of tap 0, out at the first pixel's output.
func tile2x8(in, wt, out, bias unsafe.Pointer, nci int, pix, cs, rs, tapw, ops uintptr, kh, kw int, first, relu bool) {
	var c00, c01, c02, c03, c10, c11, c12, c13 archsimd.Float32x8
	out1 := unsafe.Add(out, ops)
	if !first {
		c00 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out, 0)))
		c01 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out, 32)))
		c02 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out, 64)))
		c03 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out, 96)))
		c10 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out1, 0)))
		c11 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out1, 32)))
		c12 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out1, 64)))
		c13 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out1, 96)))
	} else if bias != nil {
		c00 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bias, 0)))
		c01 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bias, 32)))
		c02 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bias, 64)))
		c03 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bias, 96)))
		c10 = c00
		c11 = c01
		c12 = c02
		c13 = c03
	}
	ws := uintptr(4 * 32)
	for ky := 0; ky < kh; ky++ {
		for kx := 0; kx < kw; kx++ {
			a0 := unsafe.Add(in, uintptr(ky)*rs+uintptr(kx)*cs)
			a1 := unsafe.Add(a0, pix)
			b := unsafe.Add(wt, uintptr(ky*kw+kx)*tapw)
			for n := nci >> 2; ; {
				x0 := archsimd.LoadFloat32x4((*[4]float32)(a0)).Broadcast1To8()
				x1 := archsimd.LoadFloat32x4((*[4]float32)(a1)).Broadcast1To8()
				w := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 0)))
				c00 = w.MulAdd(x0, c00)
				c10 = w.MulAdd(x1, c10)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 32)))
				c01 = w.MulAdd(x0, c01)
				c11 = w.MulAdd(x1, c11)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 64)))
				c02 = w.MulAdd(x0, c02)
				c12 = w.MulAdd(x1, c12)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 96)))
				c03 = w.MulAdd(x0, c03)
				c13 = w.MulAdd(x1, c13)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 4))).Broadcast1To8()
				x1 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a1, 4))).Broadcast1To8()
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 128)))
				c00 = w.MulAdd(x0, c00)
				c10 = w.MulAdd(x1, c10)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 160)))
				c01 = w.MulAdd(x0, c01)
				c11 = w.MulAdd(x1, c11)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 192)))
				c02 = w.MulAdd(x0, c02)
				c12 = w.MulAdd(x1, c12)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 224)))
				c03 = w.MulAdd(x0, c03)
				c13 = w.MulAdd(x1, c13)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 8))).Broadcast1To8()
				x1 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a1, 8))).Broadcast1To8()
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 256)))
				c00 = w.MulAdd(x0, c00)
				c10 = w.MulAdd(x1, c10)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 288)))
				c01 = w.MulAdd(x0, c01)
				c11 = w.MulAdd(x1, c11)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 320)))
				c02 = w.MulAdd(x0, c02)
				c12 = w.MulAdd(x1, c12)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 352)))
				c03 = w.MulAdd(x0, c03)
				c13 = w.MulAdd(x1, c13)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 12))).Broadcast1To8()
				x1 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a1, 12))).Broadcast1To8()
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 384)))
				c00 = w.MulAdd(x0, c00)
				c10 = w.MulAdd(x1, c10)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 416)))
				c01 = w.MulAdd(x0, c01)
				c11 = w.MulAdd(x1, c11)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 448)))
				c02 = w.MulAdd(x0, c02)
				c12 = w.MulAdd(x1, c12)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 480)))
				c03 = w.MulAdd(x0, c03)
				c13 = w.MulAdd(x1, c13)
				n--
				if n == 0 {
					break
				}
				b = unsafe.Add(b, 4*ws)
				a0 = unsafe.Add(a0, 16)
				a1 = unsafe.Add(a1, 16)
			}
		}
	}
	if relu {
		var z archsimd.Float32x8
		c00 = c00.Max(z)
		c01 = c01.Max(z)
		c02 = c02.Max(z)
		c03 = c03.Max(z)
		c10 = c10.Max(z)
		c11 = c11.Max(z)
		c12 = c12.Max(z)
		c13 = c13.Max(z)
	}
	c00.Store((*[8]float32)(unsafe.Add(out, 0)))
	c01.Store((*[8]float32)(unsafe.Add(out, 32)))
	c02.Store((*[8]float32)(unsafe.Add(out, 64)))
	c03.Store((*[8]float32)(unsafe.Add(out, 96)))
	c10.Store((*[8]float32)(unsafe.Add(out1, 0)))
	c11.Store((*[8]float32)(unsafe.Add(out1, 32)))
	c12.Store((*[8]float32)(unsafe.Add(out1, 64)))
	c13.Store((*[8]float32)(unsafe.Add(out1, 96)))
}

// tile1x8 is the register block of 1 output pixel x 4 Float32x8 vectors of output
// channels. in points at the first pixel's input at the chunk's first channel,
// wt at the chunk's packed weights of tap 0, out at the first pixel's output.
func tile1x8(in, wt, out, bias unsafe.Pointer, nci int, pix, cs, rs, tapw, ops uintptr, kh, kw int, first, relu bool) {
	var c00, c01, c02, c03 archsimd.Float32x8
	if !first {
		c00 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out, 0)))
		c01 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out, 32)))
		c02 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out, 64)))
		c03 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(out, 96)))
	} else if bias != nil {
		c00 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bias, 0)))
		c01 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bias, 32)))
		c02 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bias, 64)))
		c03 = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(bias, 96)))
	}
	ws := uintptr(4 * 32)
	for ky := 0; ky < kh; ky++ {
		for kx := 0; kx < kw; kx++ {
			a0 := unsafe.Add(in, uintptr(ky)*rs+uintptr(kx)*cs)
			b := unsafe.Add(wt, uintptr(ky*kw+kx)*tapw)
			for n := nci >> 2; ; {
				x0 := archsimd.LoadFloat32x4((*[4]float32)(a0)).Broadcast1To8()
				w := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 0)))
				c00 = w.MulAdd(x0, c00)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 32)))
				c01 = w.MulAdd(x0, c01)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 64)))
				c02 = w.MulAdd(x0, c02)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 96)))
				c03 = w.MulAdd(x0, c03)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 4))).Broadcast1To8()
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 128)))
				c00 = w.MulAdd(x0, c00)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 160)))
				c01 = w.MulAdd(x0, c01)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 192)))
				c02 = w.MulAdd(x0, c02)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 224)))
				c03 = w.MulAdd(x0, c03)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 8))).Broadcast1To8()
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 256)))
				c00 = w.MulAdd(x0, c00)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 288)))
				c01 = w.MulAdd(x0, c01)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 320)))
				c02 = w.MulAdd(x0, c02)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 352)))
				c03 = w.MulAdd(x0, c03)
				x0 = archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a0, 12))).Broadcast1To8()
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 384)))
				c00 = w.MulAdd(x0, c00)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 416)))
				c01 = w.MulAdd(x0, c01)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 448)))
				c02 = w.MulAdd(x0, c02)
				w = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(b, 480)))
				c03 = w.MulAdd(x0, c03)
				n--
				if n == 0 {
					break
				}
				b = unsafe.Add(b, 4*ws)
				a0 = unsafe.Add(a0, 16)
			}
		}
	}
	if relu {
		var z archsimd.Float32x8
		c00 = c00.Max(z)
		c01 = c01.Max(z)
		c02 = c02.Max(z)
		c03 = c03.Max(z)
	}
	c00.Store((*[8]float32)(unsafe.Add(out, 0)))
	c01.Store((*[8]float32)(unsafe.Add(out, 32)))
	c02.Store((*[8]float32)(unsafe.Add(out, 64)))
	c03.Store((*[8]float32)(unsafe.Add(out, 96)))
}

// wgrad2x16 adds into dk (two kernel rows of input channels c and c+1, 4 Float32x16
// vectors of output channels each, the second row at dk+rowb) the products
// of the inputs at a (channel c; c+1 follows it) and the output gradients at
// dz over rows x cols pixels. Pixels advance a by pix and dz by dzp; rows (from
// a row's last pixel) by arow and dzrow. Pointers move only
// when another iteration follows, so none points past its buffer.
func wgrad2x16(a, dz, dk unsafe.Pointer, rows, cols int, pix, arow, dzp, dzrow, rowb uintptr) {
	dk1 := unsafe.Add(dk, rowb)
	c00 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dk, 0)))
	c01 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dk, 64)))
	c02 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dk, 128)))
	c03 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dk, 192)))
	c10 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dk1, 0)))
	c11 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dk1, 64)))
	c12 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dk1, 128)))
	c13 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dk1, 192)))
	for y := rows; ; {
		for x := cols; ; {
			x0 := archsimd.LoadFloat32x4((*[4]float32)(a)).Broadcast1To16()
			x1 := archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a, 4))).Broadcast1To16()
			d := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dz, 0)))
			c00 = d.MulAdd(x0, c00)
			c10 = d.MulAdd(x1, c10)
			d = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dz, 64)))
			c01 = d.MulAdd(x0, c01)
			c11 = d.MulAdd(x1, c11)
			d = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dz, 128)))
			c02 = d.MulAdd(x0, c02)
			c12 = d.MulAdd(x1, c12)
			d = archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(dz, 192)))
			c03 = d.MulAdd(x0, c03)
			c13 = d.MulAdd(x1, c13)
			x--
			if x == 0 {
				break
			}
			a = unsafe.Add(a, pix)
			dz = unsafe.Add(dz, dzp)
		}
		y--
		if y == 0 {
			break
		}
		a = unsafe.Add(a, arow)
		dz = unsafe.Add(dz, dzrow)
	}
	c00.Store((*[16]float32)(unsafe.Add(dk, 0)))
	c01.Store((*[16]float32)(unsafe.Add(dk, 64)))
	c02.Store((*[16]float32)(unsafe.Add(dk, 128)))
	c03.Store((*[16]float32)(unsafe.Add(dk, 192)))
	c10.Store((*[16]float32)(unsafe.Add(dk1, 0)))
	c11.Store((*[16]float32)(unsafe.Add(dk1, 64)))
	c12.Store((*[16]float32)(unsafe.Add(dk1, 128)))
	c13.Store((*[16]float32)(unsafe.Add(dk1, 192)))
}

// wgrad2x8 adds into dk (two kernel rows of input channels c and c+1, 4 Float32x8
// vectors of output channels each, the second row at dk+rowb) the products
// of the inputs at a (channel c; c+1 follows it) and the output gradients at
// dz over rows x cols pixels. Pixels advance a by pix and dz by dzp; rows (from
// a row's last pixel) by arow and dzrow. Pointers move only
// when another iteration follows, so none points past its buffer.
func wgrad2x8(a, dz, dk unsafe.Pointer, rows, cols int, pix, arow, dzp, dzrow, rowb uintptr) {
	dk1 := unsafe.Add(dk, rowb)
	c00 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dk, 0)))
	c01 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dk, 32)))
	c02 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dk, 64)))
	c03 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dk, 96)))
	c10 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dk1, 0)))
	c11 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dk1, 32)))
	c12 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dk1, 64)))
	c13 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dk1, 96)))
	for y := rows; ; {
		for x := cols; ; {
			x0 := archsimd.LoadFloat32x4((*[4]float32)(a)).Broadcast1To8()
			x1 := archsimd.LoadFloat32x4((*[4]float32)(unsafe.Add(a, 4))).Broadcast1To8()
			d := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dz, 0)))
			c00 = d.MulAdd(x0, c00)
			c10 = d.MulAdd(x1, c10)
			d = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dz, 32)))
			c01 = d.MulAdd(x0, c01)
			c11 = d.MulAdd(x1, c11)
			d = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dz, 64)))
			c02 = d.MulAdd(x0, c02)
			c12 = d.MulAdd(x1, c12)
			d = archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(dz, 96)))
			c03 = d.MulAdd(x0, c03)
			c13 = d.MulAdd(x1, c13)
			x--
			if x == 0 {
				break
			}
			a = unsafe.Add(a, pix)
			dz = unsafe.Add(dz, dzp)
		}
		y--
		if y == 0 {
			break
		}
		a = unsafe.Add(a, arow)
		dz = unsafe.Add(dz, dzrow)
	}
	c00.Store((*[8]float32)(unsafe.Add(dk, 0)))
	c01.Store((*[8]float32)(unsafe.Add(dk, 32)))
	c02.Store((*[8]float32)(unsafe.Add(dk, 64)))
	c03.Store((*[8]float32)(unsafe.Add(dk, 96)))
	c10.Store((*[8]float32)(unsafe.Add(dk1, 0)))
	c11.Store((*[8]float32)(unsafe.Add(dk1, 32)))
	c12.Store((*[8]float32)(unsafe.Add(dk1, 64)))
	c13.Store((*[8]float32)(unsafe.Add(dk1, 96)))
}

// ConvWeightsTiled adds the gradients of the kernel (HWIO) and of the bias
// (db; nil without one) of the convolution that p plans into dk and db,
// from its padded input in and the output gradient dz over the live
// outputs. Register blocks of 2 input channels x 4 vectors of output
// channels run over bands of output rows whose gradients stay in L1
// while every tap and input channel reads them.
func ConvWeightsTiled(p *ConvPlan, in, dz, dk, db []float32, s *ConvScratch) {
	p.mustBeValid()
	if p.CiPad > p.Ci {
		panic("convc: the tiled weight gradient reads the input unwidened; " + p.Layer + " has CiPad")
	}
	width, block := p.Width, p.Block
	if !hasAVX512 || forceAVX2 {
		width, block = 8, p.Block*8/p.Width
	}
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
// slack.
func (s *ConvScratch) widen(p *ConvPlan, in []float32) []float32 {
	px := p.InH * p.InW
	n := px * p.CiPad
	if cap(s.blk) < n+4 {
		s.blk = make([]float32, n+4)
	}
	w := s.blk[:n+4]
	for i := range px {
		d := w[i*p.CiPad : (i+1)*p.CiPad]
		copy(d, in[i*p.Ci:(i+1)*p.Ci])
		clear(d[p.Ci:])
	}
	return w
}
