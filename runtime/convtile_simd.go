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
	width, block := p.Width, p.Block
	if !hasAVX512 || forceAVX2 {
		width, block = 8, p.Block*8/p.Width
	}
	nb := p.Co / block
	par := max(s.Par, 1)
	packed := pk.acquire(p, k, block)
	defer pk.release()
	if par == 1 {
		convTiledPart(p, width, block, 0, nb, 0, p.LiveH, in, b, out, packed)
		return
	}
	// Split the channel blocks when there are enough to go round; each
	// goroutine then packs only its own slabs. Otherwise split the rows.
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
	ci, co := p.Ci, p.Co
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
	_ = out[p.OutH*p.OutW*co-1]
	_ = packed[taps*ci*co-1]
	for cb := b0; cb < b1; cb++ {
		slab := packed[cb*taps*ci*block:]
		var bias unsafe.Pointer
		if b != nil {
			bias = unsafe.Pointer(&b[cb*block])
		}
		wb := unsafe.Pointer(&slab[0])
		for y := y0; y < y1; y++ {
			row := unsafe.Pointer(&in[y*p.SH*p.InW*ci])
			ob := unsafe.Pointer(&out[(y*p.OutW)*co+cb*block])
			for c0 := 0; c0 < ci; c0 += p.Chunk {
				first, last := c0 == 0, c0+p.Chunk == ci
				relu := last && p.ReLU
				ib := unsafe.Add(row, c0*4)
				wt := unsafe.Add(wb, c0*block*4)
				x := 0
				for ; x+2 <= p.LiveW; x += 2 {
					mk2(unsafe.Add(ib, uintptr(x)*pix), wt, unsafe.Add(ob, uintptr(x)*ops), bias, p.Chunk, pix, cs, rs, tapw, ops, p.KH, p.KW, first, relu)
				}
				if x < p.LiveW {
					mk1(unsafe.Add(ib, uintptr(x)*pix), wt, unsafe.Add(ob, uintptr(x)*ops), bias, p.Chunk, pix, cs, rs, tapw, ops, p.KH, p.KW, first, relu)
				}
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
			b := wt
			for n := nci >> 2; n > 0; n-- {
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
				b = unsafe.Add(b, 4*ws)
				a0 = unsafe.Add(a0, 16)
				a1 = unsafe.Add(a1, 16)
			}
			wt = unsafe.Add(wt, tapw)
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
			b := wt
			for n := nci >> 2; n > 0; n-- {
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
				b = unsafe.Add(b, 4*ws)
				a0 = unsafe.Add(a0, 16)
			}
			wt = unsafe.Add(wt, tapw)
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
			b := wt
			for n := nci >> 2; n > 0; n-- {
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
				b = unsafe.Add(b, 4*ws)
				a0 = unsafe.Add(a0, 16)
				a1 = unsafe.Add(a1, 16)
			}
			wt = unsafe.Add(wt, tapw)
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
			b := wt
			for n := nci >> 2; n > 0; n-- {
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
				b = unsafe.Add(b, 4*ws)
				a0 = unsafe.Add(a0, 16)
			}
			wt = unsafe.Add(wt, tapw)
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
