package runtime

//go:generate go run gen_tiles.go

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ConvPlan is the schedule of one cache-tiled direct convolution: the loop
// nest that the SIMD build runs for a Conv2D layer whose kernel or input
// does not fit in the caches. codegen chooses it from the layer's shapes
// and the cache sizes of the machine it targets, and writes it into the
// generated package as a literal with its explanation (Explain).
//
// The loop nest, outermost first:
//
//	for each block of Block output channels (a slab of the packed kernel,
//	[tap][ci][Block], see PackedConv):
//	    for each live output row:
//	        for each chunk of Chunk input channels (these two loops swap
//	        when the partial sums of all rows fit in half of L2):
//	            for each pair of live output columns (one column at the end):
//	                Pixels x Block register block: for each tap, for ci in
//	                the chunk (4 at a time): broadcast the input of each
//	                pixel, multiply-add the Block/Width weight vectors
//
// Partial sums of a chunk stay in the output row, which is in L1; the
// bias starts the first chunk and ReLU ends the last. The weight slab of a
// chunk is reused by every pixel pair of a row from L1 (a small chunk) or
// L2 (all channels at once), and, while it stays in L2, by the next rows.
type ConvPlan struct {
	// Layer is the layer's name, for errors and the explanation.
	Layer string
	// InH, InW and Ci are the (padded) input the kernel reads.
	InH, InW, Ci int
	// OutH, OutW and Co are the output buffer; LiveH and LiveW the rows
	// and columns computed (the others stay zero, see codegen's live).
	OutH, OutW, Co int
	LiveH, LiveW   int
	// KH, KW, SH and SW are the kernel size and strides.
	KH, KW, SH, SW int
	// ReLU is fused into the store of the last chunk.
	ReLU bool
	// Width is the floats of one vector of the planned machine: 16 with
	// AVX-512, 8 with AVX2. A CPU without AVX-512 runs a plan made for 16
	// with 8-float vectors and blocks of Block/2 channels.
	Width int
	// Block is the output channels of a register block (4 vectors, or 2
	// with 4 pixels for 32 channels of Float32x16), and Pixels its output
	// columns.
	Block, Pixels int
	// Chunk is the input channels of one pass over the taps; it divides Ci.
	Chunk int
	// L1 and L2 are the data cache sizes, in bytes, the plan was made for.
	L1, L2 int
	// CiPad, when not 0, is Ci rounded up to a multiple of 4: the kernel
	// then reads a copy of the input widened with zero channels (a first
	// layer's 3 channels of RGB, say), and a packed kernel with zero rows
	// for them. Chunk is CiPad.
	CiPad int
	// Winograd asks the SIMD build for Winograd's F(4x4, 3x3) instead of
	// the direct convolution (see wino4_simd.go): for 3x3 kernels with
	// stride 1 and input channels in eights, where it cuts the
	// multiply-adds by 4.
	Winograd bool
	// OutStride is the pixels of one row of the output buffer (0 means
	// OutW), and OutOffset the floats before the first output pixel: the
	// input gradient writes the interior of a padded buffer.
	OutStride, OutOffset int
	// Pool, when 2, fuses the MaxPooling2D(2) that follows the layer in
	// inference: the output buffer is then the pooled map (OutH/2, OutW/2,
	// Co), the maximum of each 2x2 window of the convolution's outputs
	// (after the bias and ReLU), as the pool computes it. The
	// convolution's outputs go through a buffer of two rows (or one tile)
	// instead of the whole map, and the rows and columns the pool drops
	// are not stored.
	Pool int
}

// outStride returns the pixels of an output buffer's row.
func (p *ConvPlan) outStride() int {
	if p.OutStride > 0 {
		return p.OutStride
	}
	return p.OutW
}

// ConvGradPlan is the schedule of a tiled input gradient of a stride-1
// convolution: the output gradient, copied into a zero-padded scratch,
// convolved with the kernel flipped in space and with its channels
// swapped. Conv is that convolution: its input is the padded output
// gradient (Ci is the layer's filters) and its output the input gradient
// (Co is the layer's input channels).
type ConvGradPlan struct {
	Conv ConvPlan
	// DzH and DzW are the live rows and columns of the output gradient,
	// DzW0 its full width; Top and Left are where its first pixel goes in
	// the padded scratch (Conv.InH x Conv.InW).
	DzH, DzW, DzW0 int
	Top, Left      int
}

// chunkOuter reports whether the chunk loop runs outside the row loop for
// a part of rows rows: when the partial sums of all of them fit in half of
// L2, each chunk's weight slab passes over every row before the next
// chunk's replaces it in L1 (small maps, where a row has too few pixel
// pairs to pay for loading a slab); otherwise the chunks of a row run in
// turn, so that the row's partial sums stay in L1.
func (p *ConvPlan) chunkOuter(rows int) bool {
	return p.Chunk < p.Ci && rows*p.LiveW*p.Block*4 <= p.L2/2
}

// mustBeValid panics when the plan cannot be run: a bug in codegen, which
// would otherwise compute garbage.
func (p *ConvPlan) mustBeValid() {
	ci := max(p.CiPad, p.Ci)
	if p.Chunk <= 0 || p.Chunk%4 != 0 || ci%p.Chunk != 0 || (p.CiPad != 0 && p.CiPad < p.Ci) ||
		(p.Width != 8 && p.Width != 16) || !(p.Block == 4*p.Width || p.Block == 2*p.Width && p.Pixels == 4) || p.Co%p.Block != 0 ||
		p.LiveH > p.OutH || p.LiveW > p.OutW || p.LiveH < 1 || p.LiveW < 1 ||
		p.Winograd && !p.WinogradFits() ||
		p.Pool != 0 && (p.Pool != 2 || p.OutStride != 0 || p.OutOffset != 0 || p.LiveH < p.OutH/2*2 || p.LiveW < p.OutW/2*2 || p.OutH < 2 || p.OutW < 2) {
		panic(fmt.Sprintf("convc: invalid tiled convolution plan for %s: %+v", p.Layer, *p))
	}
}

// WinogradFits reports whether p's shapes suit the Winograd kernels: a
// 3x3 kernel with stride 1 over input channels in eights, unwidened.
// codegen asks it before choosing Winograd on cost.
func (p *ConvPlan) WinogradFits() bool {
	return p.KH == 3 && p.KW == 3 && p.SH == 1 && p.SW == 1 && p.CiPad == 0 && p.Ci%8 == 0 &&
		p.InH >= p.LiveH+2 && p.InW >= p.LiveW+2
}

// SlabFloats is the size of the packed weights of one block of output
// channels: every tap and input channel.
func (p *ConvPlan) SlabFloats() int { return p.KH * p.KW * max(p.CiPad, p.Ci) * p.Block }

// Workset returns the bytes that one chunk pass touches: its weight slab,
// the input rows the taps read and one output row.
func (p *ConvPlan) Workset() (slab, rows, out int) {
	slab = p.KH * p.KW * p.Chunk * p.Block * 4
	rows = p.KH * p.InW * p.Chunk * 4
	out = p.LiveW * p.Block * 4
	return
}

// Explain describes the plan and why it was chosen, one fact a line.
func (p *ConvPlan) Explain() string {
	var b strings.Builder
	isa := "AVX-512 (Float32x16)"
	if p.Width == 8 {
		isa = "AVX2 (Float32x8)"
	}
	slab, rows, out := p.Workset()
	if p.Winograd {
		th, tw := p.winoTiles()
		g := p.winoGEMM(p.winoBlock(th * tw))
		fmt.Fprintf(&b, "Winograd F(4x4, 3x3), %s, planned for L1 %d KiB and L2 %d KiB\n", isa, p.L1>>10, p.L2>>10)
		fmt.Fprintf(&b, "input (%d, %d, %d) padded, live output %dx%d of (%d, %d, %d): %dx%d tiles of 4x4 outputs\n",
			p.InH, p.InW, p.Ci, p.LiveH, p.LiveW, p.OutH, p.OutW, p.Co, th, tw)
		fmt.Fprintf(&b, "multiply-adds: 36 per tile and channel pair against 9 per output for the direct kernel, %.2fx fewer\n",
			float64(9*p.LiveH*p.LiveW)/float64(36*th*tw))
		fmt.Fprintf(&b, "tiles in blocks of %d (their transforms: %d KiB; the transformed kernel: %d KiB), the fewest bytes moved beyond L2; the tiles split across cores\n",
			g.InW, 36*g.InW*(p.Ci+p.Co)*4>>10, 36*p.Ci*p.Co*4>>10)
		fmt.Fprintf(&b, "36 products per block, each a 1x1 convolution over the tiles: %d tiles x %d channels register blocks, chunks of %d input channels (%d KiB of weights in L1)",
			g.Pixels, g.Block, g.Chunk, g.Chunk*g.Block*4>>10)
		return b.String()
	}
	fmt.Fprintf(&b, "tiled direct convolution, %s, planned for L1 %d KiB and L2 %d KiB\n", isa, p.L1>>10, p.L2>>10)
	fmt.Fprintf(&b, "input (%d, %d, %d) padded, kernel %dx%d, strides (%d, %d), live output %dx%d of (%d, %d, %d)\n",
		p.InH, p.InW, p.Ci, p.KH, p.KW, p.SH, p.SW, p.LiveH, p.LiveW, p.OutH, p.OutW, p.Co)
	if p.CiPad > p.Ci {
		fmt.Fprintf(&b, "input widened from %d to %d channels with zeros, as the broadcasts load 4 channels\n", p.Ci, p.CiPad)
	}
	fmt.Fprintf(&b, "register block: %d pixels x %d channels = %d accumulators, %d broadcasts and 1 weight vector (Go allocates 15 vector registers)\n",
		p.Pixels, p.Block, p.Pixels*p.Block/p.Width, p.Pixels)
	if p.chunkOuter(p.LiveH) {
		fmt.Fprintf(&b, "loops: %d channel blocks > %d chunks of %d input channels > %d rows > %d pixel pairs > %d taps > input channels by 4\n",
			p.Co/p.Block, p.Ci/p.Chunk, p.Chunk, p.LiveH, (p.LiveW+1)/2, p.KH*p.KW)
	} else {
		fmt.Fprintf(&b, "loops: %d channel blocks > %d rows > %d chunks of %d input channels > %d pixel pairs > %d taps > input channels by 4\n",
			p.Co/p.Block, p.LiveH, max(p.CiPad, p.Ci)/p.Chunk, p.Chunk, (p.LiveW+1)/2, p.KH*p.KW)
	}
	fmt.Fprintf(&b, "weights packed per channel block as [tap][ci][%d]: %d KiB a slab, %d KiB a chunk\n", p.Block, p.SlabFloats()*4>>10, slab>>10)
	if p.Chunk < p.Ci {
		fmt.Fprintf(&b, "a chunk's weights (%d KiB) stay in the %d KiB L1 while every pixel pair of a row reads them", slab>>10, p.L1>>10)
	} else {
		fmt.Fprintf(&b, "a row's pass touches %d KiB (weights %d + input rows %d + output row %d) of the %d KiB L2",
			(slab+rows+out)>>10, slab>>10, rows>>10, out>>10, p.L2>>10)
	}
	return b.String()
}

// ConvScratch is a worker's state for its tiled convolutions. The zero
// value works.
type ConvScratch struct {
	// team runs the other parts of split calls (the SIMD build's).
	team *team
	// pad holds the zero-padded output gradient of ConvInputTiled, and blk
	// the input widened to CiPad channels.
	pad, blk []float32
	// wino holds each goroutine's transformed tiles of a Winograd
	// convolution, and eq the results of a split bit comparison.
	wino [][]float32
	eq   []bool
	// du holds the transformed kernel gradient of a Winograd plan, and
	// rows each goroutine's two rows of outputs under a fused pool.
	du   []float32
	rows [][]float32
	// claims are the parts of a split call left to each goroutine.
	claims []atomic.Uint64
	// Par is the number of goroutines that a layer's work is split across:
	// 1 while a worker trains or predicts one sample of a batch, more when
	// one sample has the machine to itself (Predictor.Predict). Results are
	// bit-identical for any Par: every output is summed by one goroutine in
	// the same order.
	Par int
}

// PackedConv holds one tiled layer's kernel packed into the order its
// micro-kernel reads, [block][tap][ci][Block], shared by every worker of a
// model. Each pass compares the kernel with the copy it was packed from,
// in one sequential read, and packs it again when any bit differs; so
// weights changed by an optimizer step, LoadWeights or a write into
// Params() are always used, and a model whose weights do not change packs
// once.
type PackedConv struct {
	mu  sync.RWMutex
	src []float32
	// packed[0] is the kernel for the forward pass, packed[1] flipped and
	// transposed for the input gradient, packed[2] and packed[3] the same
	// two transformed for Winograd's F(4x4, 3x3); block[f] is their block
	// size, 0 when not packed for the current src.
	packed [4][]float32
	block  [4]int
	// flipped holds the input gradient's own kernel while it is
	// transformed for Winograd, kept so that repacking after every
	// training step allocates nothing.
	flipped []float32
}

// The forms of a packed kernel.
const (
	packForward = iota
	packFlipped
	packWinograd
	packWinogradFlipped
)

// acquire returns the packed form f of kernel k in blocks of block output
// channels: for the forward pass, for the input gradient (packFlipped; p
// is then the gradient's plan, whose Ci and Co are the layer's Co and Ci)
// or for Winograd. equal compares the kernel with the copy it was packed
// from (equalBits, or split across cores). It holds a read lock that
// release ends.
func (pk *PackedConv) acquire(p *ConvPlan, k []float32, block int, f int, equal func(a, b []float32) bool) []float32 {
	pk.mu.RLock()
	if pk.block[f] == block && len(pk.src) == len(k) && equal(pk.src, k) {
		return pk.packed[f]
	}
	pk.mu.RUnlock()
	pk.mu.Lock()
	if len(pk.src) != len(k) || !equalBits(pk.src, k) {
		if len(pk.src) != len(k) {
			pk.src = make([]float32, len(k))
		}
		copy(pk.src, k)
		pk.block = [4]int{}
	}
	if pk.block[f] != block {
		n := p.KH * p.KW * max(p.CiPad, p.Ci) * p.Co
		if f == packWinograd || f == packWinogradFlipped {
			n = 36 * p.Ci * p.Co
		}
		if len(pk.packed[f]) != n {
			pk.packed[f] = make([]float32, n)
		}
		dst := pk.packed[f]
		taps, ci, co := p.KH*p.KW, p.Ci, p.Co
		nb := co / block
		switch f {
		case packWinograd:
			winoPack(p, k, dst, block)
		case packWinogradFlipped:
			// The input gradient's own HWIO kernel, then its transform:
			// tap t, its input channel c (the layer's output channel) and
			// output channel o (the layer's input channel) are the layer's
			// tap taps-1-t, input o and output c.
			if len(pk.flipped) != len(k) {
				pk.flipped = make([]float32, len(k))
			}
			kf := pk.flipped
			for t := range taps {
				for c := range ci {
					for o := range co {
						kf[(t*ci+c)*co+o] = k[((taps-1-t)*co+o)*ci+c]
					}
				}
			}
			winoPack(p, kf, dst, block)
		case packForward:
			// Read k in order; write each block's run of channels. Padded
			// channels (CiPad) have zero weights.
			cip := max(p.CiPad, ci)
			for t := range taps {
				for c := range ci {
					row := k[(t*ci+c)*co : (t*ci+c+1)*co]
					for cb := range nb {
						copy(dst[((cb*taps+t)*cip+c)*block:][:block], row[cb*block:])
					}
				}
			}
		default:
			// k is the layer's [tap][co][ci] here (co = p.Ci, ci = p.Co);
			// tap t of the gradient is the layer's tap taps-1-t.
			for t := range taps {
				for o := range co {
					row := k[((taps-1-t)*co+o)*ci : ((taps-1-t)*co+o+1)*ci]
					for c, v := range row {
						dst[(((o/block)*taps+t)*ci+c)*block+o%block] = v
					}
				}
			}
		}
		pk.block[f] = block
	}
	pk.mu.Unlock()
	pk.mu.RLock()
	return pk.packed[f]
}

func (pk *PackedConv) release() { pk.mu.RUnlock() }

// equalBits reports whether a and b hold the same bits.
func equalBits(a, b []float32) bool {
	if len(a) == 0 {
		return len(b) == 0
	}
	return bytes.Equal(unsafe.Slice((*byte)(unsafe.Pointer(&a[0])), 4*len(a)), unsafe.Slice((*byte)(unsafe.Pointer(&b[0])), 4*len(b)))
}

// Parallel is implemented by generated workers whose kernels can split one
// sample's layers across several goroutines.
type Parallel interface {
	// SetParallel sets the number of goroutines for the following calls.
	SetParallel(n int)
}

// winoG is G of Winograd's F(4x4, 3x3), which transforms a 3x3 kernel
// into the 6x6 U = G g Gᵀ.
var winoG = [6][3]float64{
	{1.0 / 4, 0, 0},
	{-1.0 / 6, -1.0 / 6, -1.0 / 6},
	{-1.0 / 6, 1.0 / 6, -1.0 / 6},
	{1.0 / 24, 1.0 / 12, 1.0 / 6},
	{1.0 / 24, -1.0 / 12, 1.0 / 6},
	{0, 0, 1},
}

// winoPack writes the transformed kernel U = G g Gᵀ of the HWIO 3x3
// kernel k into dst as [cell][block][ci][block channels], computed in
// float64.
func winoPack(p *ConvPlan, k, dst []float32, block int) {
	ci, co := p.Ci, p.Co
	g := &winoG
	for c := range ci {
		for o := range co {
			var w [3][3]float64
			for ky := range 3 {
				for kx := range 3 {
					w[ky][kx] = float64(k[((ky*3+kx)*ci+c)*co+o])
				}
			}
			// t = G w (6x3), then U = t Gᵀ (6x6).
			var t [6][3]float64
			for r := range 6 {
				for x := range 3 {
					t[r][x] = g[r][0]*w[0][x] + g[r][1]*w[1][x] + g[r][2]*w[2][x]
				}
			}
			for r := range 6 {
				for s := range 6 {
					u := t[r][0]*g[s][0] + t[r][1]*g[s][1] + t[r][2]*g[s][2]
					cell := r*6 + s
					dst[cell*ci*co+((o/block)*ci+c)*block+o%block] = float32(u)
				}
			}
		}
	}
}

// winoBlock returns the tiles of one block of a part of n tiles, spread
// evenly over the part. Each block reads the whole transformed kernel U
// (36 x Ci x Co floats), so a large U wants few blocks, while V and M (36
// x (Ci + Co) floats a tile) stay in L2 only for small blocks. It takes
// the block that moves the fewest bytes beyond L2, counting U once a
// block when it does not fit in half of L2 beside them, and V and M twice
// (written, then read) when they do not, among blocks that fit in half
// of L2 (at least 16 tiles, so that the products reuse each weight
// vector) and blocks of up to winoMaxScratch bytes.
func (p *ConvPlan) winoBlock(n int) int {
	per := 36 * (p.Ci + p.Co) * 4
	u := 36 * p.Ci * p.Co * 4
	cost := func(nb int) int {
		blocks := (n + nb - 1) / nb
		c := 0
		if u+min(nb*per, p.L2/2) > p.L2/2 {
			c += u * blocks
		}
		if nb*per > p.L2/2 {
			c += 2 * n * per
		}
		return c
	}
	best := min(n, max(16, p.L2/2/per))
	if big := min(n, max(best, winoMaxScratch/per)); cost(big) < cost(best) {
		best = big
	}
	blocks := (n + best - 1) / best
	return (n + blocks - 1) / blocks
}

// winoMaxScratch bounds the bytes of one goroutine's V and M.
const winoMaxScratch = 8 << 20

// winoWeightTiles is the fewest tiles for which the kernel gradient of a
// Winograd plan runs Winograd too. Below it, the transformed gradient (36
// x Ci x Co floats, cleared, added to once a block of tiles and
// transformed back) costs more than the multiply-adds it saves: on Zen 5,
// with 256 and 512 channels, 36-64 tiles ran 0.6-1.1 times as fast as
// the direct kernel gradient, 100-2025 tiles 1.7-2.4 times. The tests
// lower it to check the Winograd gradient on small maps.
var winoWeightTiles = 96

// ExplainKernelGrad says how ConvWeightsTiled computes p's kernel
// gradient, and why.
func (p *ConvPlan) ExplainKernelGrad() string {
	switch {
	case p.winogradWeights():
		return "kernel gradient: Winograd over the same tiles, one 1x1 weight gradient per cell of the transform"
	case p.Winograd:
		th, tw := p.winoTiles()
		return fmt.Sprintf("kernel gradient: direct, as %d tiles are fewer than the %d for which Winograd's gradient pays", th*tw, winoWeightTiles)
	}
	return "kernel gradient: direct, register blocks of 2 input channels x 4 vectors over bands of output rows"
}

// winogradWeights reports whether p's kernel gradient runs Winograd.
func (p *ConvPlan) winogradWeights() bool {
	th, tw := p.winoTiles()
	return p.Winograd && th*tw >= winoWeightTiles
}

// winoTiles returns the rows and columns of tiles over the live outputs.
func (p *ConvPlan) winoTiles() (th, tw int) { return (p.LiveH + 3) / 4, (p.LiveW + 3) / 4 }

// winoGEMM returns the plan of the 1x1 convolutions of step 2 over nb
// tiles: p's register block (2 tiles x 4 vectors), and the largest chunk
// of input channels whose weights fill at most 3/4 of L1 (as the direct
// plans do; half of L1 was 4-12% slower on VGG16 blocks 2-4 on Zen 5).
func (p *ConvPlan) winoGEMM(nb int) ConvPlan {
	g := ConvPlan{Layer: p.Layer, InH: 1, InW: nb, Ci: p.Ci, OutH: 1, OutW: nb, Co: p.Co, LiveH: 1, LiveW: nb,
		KH: 1, KW: 1, SH: 1, SW: 1, Width: p.Width, Block: p.Block, Pixels: p.Pixels, L1: p.L1, L2: p.L2, Chunk: 4}
	for c := 4; c <= p.Ci; c += 4 {
		if p.Ci%c == 0 && c*p.Block*4 <= p.L1*3/4 {
			g.Chunk = c
		}
	}
	return g
}

// ConvTiledPortable computes what ConvTiled computes for a plan without a
// fused pool, in plain Go, following the same plan: blocks of Block output
// channels, then rows, then chunks of Chunk input channels, then groups
// of Pixels output columns whose Pixels x Block accumulators take every
// tap and input channel of the chunk. It is the portable build's kernel
// for tiled layers (and the fallback of the SIMD build on CPUs without
// AVX2 and FMA), so that both builds run the loop nest that -explain
// prints. A Winograd plan runs the direct nest; the input is read
// unwidened (CiPad's zero channels would add nothing).
func ConvTiledPortable(p *ConvPlan, in, k, b, out []float32) {
	p.mustBeValid()
	if p.Pool != 0 || p.Pixels > 4 || p.Block > 64 {
		panic(fmt.Sprintf("convc: ConvTiledPortable runs plans without a pool, of at most 4 pixels x 64 channels; %s has %+v", p.Layer, *p))
	}
	ci, co := p.Ci, p.Co
	ostride := p.outStride()
	_ = in[p.InH*p.InW*ci-1]
	_ = k[p.KH*p.KW*ci*co-1]
	_ = out[p.OutOffset+((p.LiveH-1)*ostride+p.LiveW)*co-1]
	var acc [4][64]float32
	for cb := range co / p.Block {
		o0 := cb * p.Block
		for y := range p.LiveH {
			row := out[p.OutOffset+y*ostride*co:]
			for c0 := 0; c0 < ci; c0 += p.Chunk {
				c1 := min(c0+p.Chunk, ci)
				last := c1 == ci
				for x0 := 0; x0 < p.LiveW; x0 += p.Pixels {
					np := min(p.Pixels, p.LiveW-x0)
					for px := range np {
						a := acc[px][:p.Block]
						switch {
						case c0 > 0:
							copy(a, row[(x0+px)*co+o0:])
						case b != nil:
							copy(a, b[o0:])
						default:
							clear(a)
						}
					}
					for ky := range p.KH {
						for kx := range p.KW {
							for c := c0; c < c1; c++ {
								w := k[((ky*p.KW+kx)*ci+c)*co+o0:][:p.Block]
								for px := range np {
									v := in[((y*p.SH+ky)*p.InW+(x0+px)*p.SW+kx)*ci+c]
									a := acc[px][:p.Block]
									for o, wo := range w {
										a[o] += v * wo
									}
								}
							}
						}
					}
					for px := range np {
						a := acc[px][:p.Block]
						if last && p.ReLU {
							for o, v := range a {
								a[o] = max(v, 0)
							}
						}
						copy(row[(x0+px)*co+o0:][:p.Block], a)
					}
				}
			}
		}
	}
}
