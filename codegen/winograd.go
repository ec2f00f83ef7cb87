package codegen

import (
	"fmt"
	"strings"

	"github.com/convc/convc/dsl"
	"github.com/dave/jennifer/jen"
)

// The SIMD build runs small 3x3 convolutions, the forward pass and both
// gradients, with Winograd's minimal filtering F(2x2, 3x3) (Lavin and
// Gray, "Fast Algorithms for Convolutional Neural Networks", 2015): each
// 2x2 block of outputs (a tile) is
//
//	Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//
// for the 4x4 input window d of the tile and the 3x3 kernel g of each pair
// of channels. Summed over the input channels, the 16 elementwise products
// become 16 matrix products (tiles by input channels times input channels
// by output channels), with 16 multiplications per tile and channel pair
// instead of the direct convolution's 36: 2.25 times fewer. The transforms
// only add, subtract and halve, which is exact, so the results differ from
// the direct convolution's only in float32 rounding.
//
// The transformed kernel U = G g Gᵀ is computed by the worker, not once per
// step: the worker keeps a copy of the kernel it last transformed and
// compares it with the current one on every call (one pass over the kernel,
// a fraction of the convolution's cost), so no path that changes the
// weights (an optimizer step, LoadWeights, a write into Params) can leave
// it stale.
//
// winoMaxFloats bounds the worker's Winograd buffers that hold a band of
// tiles (the 16 products, and the gradient of the transformed input), so
// that they stay in L2: a layer with more tiles than fit is computed band
// by band, a few rows of tiles at a time.
const winoMaxFloats = 64 << 10

// winoMaxKernel bounds the transformed kernel, which every band reads.
const winoMaxKernel = 512 << 10

// wino reports whether the SIMD build computes layer i's passes with
// F(2x2, 3x3): a 3x3 kernel with stride 1 and no padding, input and output
// channels in whole vectors, an activation the SIMD forward takes, an even
// number of live rows and columns (see gen.live), a band of tiles (see
// winoBand), and a transformed kernel within winoMaxKernel.
func (g *gen) wino(i int) bool {
	l := &g.m.Layers[i]
	if l.Kind != dsl.KindConv2D || !g.simdConvForward(i) || l.Kernel != [2]int{3, 3} ||
		l.Strides != [2]int{1, 1} || hasPad(l) || l.In[2]%8 != 0 || l.Out[2]%8 != 0 {
		return false
	}
	lh, lw := g.live(i)
	if lh%2 != 0 || lw%2 != 0 {
		return false
	}
	return g.winoBand(i) > 0 && 16*l.In[2]*l.Out[2] <= winoMaxKernel
}

// winoGrid returns the tile rows and columns of layer i's live outputs.
func (g *gen) winoGrid(i int) (th, tw int) {
	lh, lw := g.live(i)
	return lh / 2, lw / 2
}

// winoBand returns how many rows of tiles layer i computes at a time: the
// most that divide the tile rows and keep a band's buffers within
// winoMaxFloats, with at least 8 tiles for the matrix products to reuse
// their operands; 0 when there are none.
func (g *gen) winoBand(i int) int {
	l := &g.m.Layers[i]
	th, tw := g.winoGrid(i)
	for r := th; r >= 1; r-- {
		if th%r == 0 && r*tw >= 8 && 16*r*tw*max(l.In[2], l.Out[2]) <= winoMaxFloats {
			return r
		}
	}
	return 0
}

// winoTiles returns the tile rows and columns of one band of layer i,
// which the kernels below loop over.
func (g *gen) winoTiles(i int) (th, tw int) {
	_, tw = g.winoGrid(i)
	return g.winoBand(i), tw
}

// winoBC returns the floats of the broadcast scratch that layer i's
// Winograd forward pass uses: one transformed input plane (every tile and
// input channel), 8 copies of each value.
func (g *gen) winoBC(i int) int {
	th, tw := g.winoTiles(i)
	return th * tw * g.m.Layers[i].In[2] * 8
}

// winoType declares the Winograd state of layer i for the SIMD build: the
// kernel it last transformed, the transformed kernel, and the 16 products.
func (g *gen) winoType(f *jen.File, i int) {
	l := &g.m.Layers[i]
	th, tw := g.winoTiles(i)
	ci, co := l.In[2], l.Out[2]
	f.Comment(fmt.Sprintf("wino%d is the Winograd F(2x2, 3x3) state of %s: kc is the kernel that u\n"+
		"was transformed from, u[16][%d][%d] the transformed kernel, and m[16][%d][%d] the\n"+
		"16 products of the transformed input and kernel for a band of %dx%d tiles (in the\n"+
		"backward pass, the transformed output gradient), du the gradient of u, and\n"+
		"dv[16][%d][%d] that of the transformed input.", i, l.Name, ci, co, th*tw, co, th, tw, th*tw, ci))
	f.Type().Id(fmt.Sprintf("wino%d", i)).Struct(
		jen.Id("kc").Index(jen.Lit(9*ci*co)).Float32(),
		jen.Id("u").Index(jen.Lit(16*ci*co)).Float32(),
		jen.Id("m").Index(jen.Lit(16*th*tw*co)).Float32(),
		jen.Id("du").Index(jen.Lit(16*winoDUStride(l))).Float32(),
		jen.Id("dv").Index(jen.Lit(16*th*tw*ci)).Float32(),
	)
}

// winoDUStride returns the floats from one position of the kernel gradient
// du to the next: a cache line more than the position's floats, so that
// the 16 positions the last transform reads together do not fall into the
// same L1 sets (positions of 32 KiB would).
func winoDUStride(l *dsl.Layer) int { return l.In[2]*l.Out[2] + 16 }

// winoParam is the declaration of layer i's Winograd state parameter.
func winoParam(i int) jen.Code { return jen.Id("wg").Op("*").Id(fmt.Sprintf("wino%d", i)) }

// usesWino reports whether the entry point of dispatched kernel d takes
// its layer's Winograd state: the forward pass and both gradients of a
// Winograd layer.
func (g *gen) usesWino(d dispatched) bool {
	return g.wino(d.layer) && (strings.HasPrefix(d.name, "forward") ||
		strings.HasSuffix(d.name, "Weights") || strings.HasSuffix(d.name, "Input"))
}

// winoArg is the worker's Winograd state as an argument, for the kernel of
// layer i named name, or nil when that kernel takes none.
func (g *gen) winoArg(i int, name string) jen.Code {
	if !g.usesWino(dispatched{name: name, layer: i}) {
		return nil
	}
	return jen.Op("&").Id("w").Dot(fmt.Sprintf("wg%d", i))
}

// winoKernelSIMD returns the body of winoKernel<i>: it compares the kernel
// with the one last transformed, and when any bit differs transforms it,
// U = G g Gᵀ with G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], vectorized over
// output channels.
func (g *gen) winoKernelSIMD(i int) string {
	l := &g.m.Layers[i]
	ci, co := l.In[2], l.Out[2]
	n := 9 * ci * co
	s := &src{}
	s.p("kp, cp := unsafe.Pointer(&k[0]), unsafe.Pointer(&wg.kc[0])")
	s.p("var d0, d1, d2, d3 archsimd.Uint32x8")
	s.p("for n := %d; ; {", n/32)
	for j := range 4 {
		s.p("d%d = d%d.Or(archsimd.LoadUint32x8((*[8]uint32)(%s)).Xor(archsimd.LoadUint32x8((*[8]uint32)(%s))))", j, j, addr("kp", j*32), addr("cp", j*32))
	}
	s.p("n--")
	s.p("if n == 0 { break }")
	s.p("kp = unsafe.Add(kp, 128)")
	s.p("cp = unsafe.Add(cp, 128)")
	s.p("}")
	s.p("var d [8]uint32")
	s.p("d0.Or(d1).Or(d2.Or(d3)).Store(&d)")
	s.p("if d == ([8]uint32{}) { return }")
	// copy is memmove, which may use SSE.
	s.p("archsimd.ClearAVXUpperBits()")
	s.p("copy(wg.kc[:], k[:])")
	s.p("half := archsimd.BroadcastFloat32x8(0.5)")
	s.p("kb, ub := unsafe.Pointer(&k[0]), unsafe.Pointer(&wg.u[0])")
	s.p("var t0, t1, t2 archsimd.Float32x8")
	s.walk(ci*co/8, []string{"kq", "uq"}, []string{"kb", "ub"}, []string{"32", "32"}, func() {
		for t := range 9 {
			s.p("g%d := %s", t, load("kq", t*ci*co*4))
		}
		// Rows of G g: row 0 is g's first row, row 3 its last, rows 1 and 2
		// the halved sum and alternating sum of its rows.
		for r := range 4 {
			for x := range 3 {
				switch r {
				case 0:
					s.p("t%d = g%d", x, x)
				case 1:
					s.p("t%d = g%d.Add(g%d).Add(g%d).Mul(half)", x, x, 3+x, 6+x)
				case 2:
					s.p("t%d = g%d.Sub(g%d).Add(g%d).Mul(half)", x, x, 3+x, 6+x)
				case 3:
					s.p("t%d = g%d", x, 6+x)
				}
			}
			// Columns: the same combination of t0, t1, t2.
			for c := range 4 {
				var v string
				switch c {
				case 0:
					v = "t0"
				case 1:
					v = "t0.Add(t1).Add(t2).Mul(half)"
				case 2:
					v = "t0.Sub(t1).Add(t2).Mul(half)"
				case 3:
					v = "t2"
				}
				s.p("%s.Store((*[8]float32)(%s))", v, addr("uq", (r*4+c)*ci*co*4))
			}
		}
	})
	return s.String()
}

// bTerms lists, for row r of Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
// its two nonzero columns and their signs.
var bTerms = [4][2]struct {
	col  int
	sign int
}{
	{{0, 1}, {2, -1}},
	{{1, 1}, {2, 1}},
	{{2, 1}, {1, -1}},
	{{1, 1}, {3, -1}},
}

// convForwardWinoSIMD returns the body of a Winograd forward convolution.
// For each of the 16 positions of a transformed tile it computes the
// position's transformed input, V = (Bᵀ d B) at that position, for every
// tile and input channel (4 inputs each, since every row of Bᵀ has two
// nonzeros), pre-broadcast into bc as the direct kernels' inputs are, and
// multiplies it by the position's transformed kernel into m. Then each
// tile's outputs are Aᵀ m A with Aᵀ = [1 1 1 0; 0 1 -1 -1], plus the bias,
// with ReLU fused into the stores.
func (g *gen) convForwardWinoSIMD(i int) string {
	l := &g.m.Layers[i]
	c := g.geom(i)
	ci, co := c.ci, c.co
	th, tw := g.winoTiles(i)
	nt := th * tw
	relu := g.act(i) == "relu"
	s := &src{}
	s.p("winoKernel%d(k, wg)", i)
	s.p("inb := unsafe.Pointer(&in[0])")
	s.p("vb := unsafe.Pointer(&bc[0])")
	s.p("ub := unsafe.Pointer(&wg.u[0])")
	s.p("mb := unsafe.Pointer(&wg.m[0])")
	s.p("outb := unsafe.Pointer(&out[0])")
	for k := range 8 {
		s.p("i%d := archsimd.LoadUint32x8(&bcIdx[%d])", k, k)
	}
	if l.UseBias {
		s.p("bb := unsafe.Pointer(&b[0])")
	}
	if relu {
		s.p("var zero archsimd.Float32x8")
	}
	gh, _ := g.winoGrid(i)
	s.p("// Bands of %d of the %d rows of tiles.", th, gh)
	s.p("for ty0 := 0; ty0 < %d; ty0 += %d {", gh, th)
	s.p("ib := unsafe.Add(inb, ty0*%d)", 2*c.wp*ci*4)
	s.p("ob := unsafe.Add(outb, ty0*%d)", 2*c.ow*co*4)
	for p := range 16 {
		g.winoInput(s, i, p, false)
		s.p("winoGemm%d(vb, unsafe.Add(ub, %d), unsafe.Add(mb, %d))", i, p*ci*co*4, p*nt*co*4)
	}
	// The inverse transform.
	s.p("for ty := range %d {", th)
	s.p("for tx := range %d {", tw)
	s.p("mt := unsafe.Add(mb, (ty*%d+tx)*%d)", tw, co*4)
	s.p("ot := unsafe.Add(ob, ty*%d+tx*%d)", 2*c.ow*co*4, 2*co*4)
	ps, inits := []string{"mq", "oq"}, []string{"mt", "ot"}
	if l.UseBias {
		ps, inits = append(ps, "bq"), append(inits, "bb")
	}
	s.walk(co/8, ps, inits, []string{"32", "32", "32"}, func() {
		m := func(p int) string { return load("mq", p*nt*co*4) }
		for j := range 4 {
			s.p("m0_%d, m1_%d, m2_%d, m3_%d := %s, %s, %s, %s", j, j, j, j, m(j), m(4+j), m(8+j), m(12+j))
			s.p("r0_%d := m0_%d.Add(m1_%d).Add(m2_%d)", j, j, j, j)
			s.p("r1_%d := m1_%d.Sub(m2_%d).Sub(m3_%d)", j, j, j, j)
		}
		if l.UseBias {
			s.p("bv := %s", load("bq", 0))
		}
		for dy := range 2 {
			for dx := range 2 {
				var y string
				if dx == 0 {
					y = fmt.Sprintf("r%d_0.Add(r%d_1).Add(r%d_2)", dy, dy, dy)
				} else {
					y = fmt.Sprintf("r%d_1.Sub(r%d_2).Sub(r%d_3)", dy, dy, dy)
				}
				if l.UseBias {
					y += ".Add(bv)"
				}
				if relu {
					y += ".Max(zero)"
				}
				s.p("%s.Store((*[8]float32)(%s))", y, addr("oq", (dy*c.ow+dx)*co*4))
			}
		}
	})
	s.p("}")
	s.p("}")
	s.p("}")
	return s.String()
}

// winoInput emits the transformed input of layer i at position p of the
// tiles, V = (Bᵀ d B)[p] for every tile and input channel, pre-broadcast
// into bc: 4 inputs each, since every row of Bᵀ has two nonzeros. It reads
// the input from ib, writes through vb, and needs the permutations i0 to
// i7. The planes are tile-major ([tile][channel][8]) for the forward pass,
// whose products sum over channels, and channel-major for the weight
// gradient, whose products sum over tiles, so that each sum reads
// consecutive vectors.
func (g *gen) winoInput(s *src, i, p int, channelMajor bool) {
	c := g.geom(i)
	ci := c.ci
	th, tw := g.winoTiles(i)
	rowB, pixB := c.wp*ci*4, ci*4
	pr, pc := p/4, p%4
	s.p("// position (%d, %d)", pr, pc)
	s.p("for ty := range %d {", th)
	s.p("for tx := range %d {", tw)
	s.p("tp := unsafe.Add(ib, ty*%d+tx*%d)", 2*rowB, 2*pixB)
	if channelMajor {
		s.p("vp := unsafe.Add(vb, (ty*%d+tx)*32)", tw)
	} else {
		s.p("vp := unsafe.Add(vb, (ty*%d+tx)*%d)", tw, ci*32)
	}
	vStride := 256
	if channelMajor {
		vStride = 8 * th * tw * 32
	}
	s.walk(ci/8, []string{"tq", "op"}, []string{"tp", "vp"}, []string{"32", fmt.Sprint(vStride)}, func() {
		first := true
		for _, a := range bTerms[pr] {
			for _, b := range bTerms[pc] {
				x := load("tq", a.col*rowB+b.col*pixB)
				switch {
				case first:
					// Every row of Bᵀ starts with a positive term.
					s.p("x := %s", x)
				case a.sign*b.sign > 0:
					s.p("x = x.Add(%s)", x)
				default:
					s.p("x = x.Sub(%s)", x)
				}
				first = false
			}
		}
		for k := range 8 {
			s.p("x.Permute(i%d).Store((*[8]float32)(%s))", k, addr("op", k*vStride/8))
		}
	})
	s.p("}")
	s.p("}")
}

// winoGemmSIMD returns the body of winoGemm<i>(v, u, m): the product of
// one position's pre-broadcast transformed input v (tiles by input
// channels) and transformed kernel u (input by output channels) into m
// (tiles by output channels). Register blocks are 4 tiles by 2 vectors of
// output channels, as in the direct kernel; a last lone tile takes up to 4
// vectors at once, with the kernel vectors, each used once, as the
// receivers of the multiply-adds.
func (g *gen) winoGemmSIMD(i int) string {
	l := &g.m.Layers[i]
	ci, co := l.In[2], l.Out[2]
	th, tw := g.winoTiles(i)
	nt := th * tw
	u := unroll(ci)
	s := &src{}
	// block emits np tiles from tile expression t0 by nv vectors at
	// output-channel byte offset cOff.
	block := func(t0 string, np, nv int, cOff string) {
		for j := range np {
			for v := range nv {
				s.p("var acc%d_%d archsimd.Float32x8", j, v)
			}
		}
		s.p("wt := unsafe.Add(u, %s)", cOff)
		s.p("rt := unsafe.Add(v, (%s)*%d)", t0, ci*32)
		s.loop(ci/u, [][2]string{{"wt", fmt.Sprint(u * co * 4)}, {"rt", fmt.Sprint(u * 32)}}, func() {
			for st := range u {
				for v := range nv {
					s.p("w%d_%d := %s", st, v, load("wt", st*co*4+v*32))
				}
				for j := range np {
					s.p("x%d_%d := %s", st, j, load("rt", j*ci*32+st*32))
					for v := range nv {
						if np == 1 {
							s.p("acc%d_%d = w%d_%d.MulAdd(x%d_%d, acc%d_%d)", j, v, st, v, st, j, j, v)
						} else {
							s.p("acc%d_%d = x%d_%d.MulAdd(w%d_%d, acc%d_%d)", j, v, st, j, st, v, j, v)
						}
					}
				}
			}
		})
		s.p("mt := unsafe.Add(m, (%s)*%d+%s)", t0, co*4, cOff)
		for j := range np {
			for v := range nv {
				s.p("acc%d_%d.Store((*[8]float32)(%s))", j, v, addr("mt", j*co*4+v*32))
			}
		}
	}
	nv := co / 8
	// channels emits the channel blocks of np tiles from t0, by pairs of
	// vectors, or for a lone tile by up to 4 vectors.
	channels := func(t0 string, np int) {
		per := 2
		if np == 1 {
			per = min(4, nv)
		}
		if nv/per > 0 {
			s.p("for cb := 0; cb < %d; cb += %d {", nv/per*per*32, per*32)
			block(t0, np, per, "cb")
			s.p("}")
		}
		if r := nv % per; r > 0 {
			s.p("{")
			block(t0, np, r, fmt.Sprint(nv/per*per*32))
			s.p("}")
		}
	}
	if nt/4 > 0 {
		s.p("for tb := 0; tb < %d; tb += 4 {", nt/4*4)
		channels("tb", 4)
		s.p("}")
	}
	if r := nt % 4; r > 0 {
		s.p("{")
		channels(fmt.Sprint(nt/4*4), r)
		s.p("}")
	}
	return s.String()
}

// convWeightsWinoSIMD returns the body of a Winograd weight gradient. The
// forward pass is a sum over tiles of Aᵀ [U ⊙ V] A, so the gradient of U
// is dU = Σ_tiles V ⊙ (A dY Aᵀ), one matrix product per position (input
// channels by tiles times tiles by output channels), and the kernel's is
// Gᵀ dU G. The transformed output gradient A dY Aᵀ goes to wg.m, each
// position's V to bc as in the forward pass, and dU to wg.du.
func (g *gen) convWeightsWinoSIMD(i int) string {
	l := &g.m.Layers[i]
	c := g.geom(i)
	ci, co := c.ci, c.co
	th, tw := g.winoTiles(i)
	nt := th * tw
	rowB, pixB := c.ow*co*4, co*4
	s := &src{}
	s.p("zf := unsafe.Pointer(&dz[0])")
	if l.UseBias {
		// The bias gradient: dz summed over the live outputs, up to 8
		// vectors of channels at a time.
		s.p("bp := unsafe.Pointer(&db[0])")
		for c0 := 0; c0 < co/8; c0 += 8 {
			n := min(8, co/8-c0)
			s.p("{")
			for v := range n {
				s.p("b%d := %s", v, load("bp", (c0+v)*32))
			}
			s.p("for y := range %d {", c.lh)
			s.p("for x := range %d {", c.lw)
			s.p("zp := unsafe.Add(zf, y*%d+x*%d)", rowB, pixB)
			for v := range n {
				s.p("b%d = b%d.Add(%s)", v, v, load("zp", (c0+v)*32))
			}
			s.p("}")
			s.p("}")
			for v := range n {
				s.p("b%d.Store((*[8]float32)(%s))", v, addr("bp", (c0+v)*32))
			}
			s.p("}")
		}
	}
	s.p("mb := unsafe.Pointer(&wg.m[0])")
	s.p("var zero archsimd.Float32x8")
	s.p("inb := unsafe.Pointer(&in[0])")
	s.p("vb := unsafe.Pointer(&bc[0])")
	s.p("dub := unsafe.Pointer(&wg.du[0])")
	for k := range 8 {
		s.p("i%d := archsimd.LoadUint32x8(&bcIdx[%d])", k, k)
	}
	// dU, band by band (the first band stores it, the others add to it),
	// position by position.
	gh, _ := g.winoGrid(i)
	s.p("for ty0 := 0; ty0 < %d; ty0 += %d {", gh, th)
	s.p("zb := unsafe.Add(zf, ty0*%d)", 2*rowB)
	s.p("ib := unsafe.Add(inb, ty0*%d)", 2*c.wp*ci*4)
	g.winoOutputGrad(s, i)
	for p := range 16 {
		g.winoInput(s, i, p, true)
		s.p("winoGrad%d(vb, unsafe.Add(mb, %d), unsafe.Add(dub, %d), ty0 > 0)", i, p*nt*co*4, p*winoDUStride(l)*4)
	}
	s.p("}")
	// dk += Gᵀ dU G, with the columns of G (1 ½ ½ 0), (0 ½ -½ 0) and
	// (0 ½ ½ 1).
	s.p("half := archsimd.BroadcastFloat32x8(0.5)")
	s.p("kb := unsafe.Pointer(&dk[0])")
	s.walk(ci*co/8, []string{"dq", "kq"}, []string{"dub", "kb"}, []string{"32", "32"}, func() {
		du := func(r, q int) string {
			return load("dq", (r*4+q)*winoDUStride(l)*4)
		}
		for y := range 3 {
			for q := range 4 {
				switch y {
				case 0:
					s.p("s%d := %s.Add(%s.Add(%s).Mul(half))", q, du(0, q), du(1, q), du(2, q))
				case 1:
					s.p("s%d = %s.Sub(%s).Mul(half)", q, du(1, q), du(2, q))
				case 2:
					s.p("s%d = %s.Add(%s).Mul(half).Add(%s)", q, du(1, q), du(2, q), du(3, q))
				}
			}
			for x := range 3 {
				var v string
				switch x {
				case 0:
					v = "s0.Add(s1.Add(s2).Mul(half))"
				case 1:
					v = "s1.Sub(s2).Mul(half)"
				case 2:
					v = "s1.Add(s2).Mul(half).Add(s3)"
				}
				kp := addr("kq", (y*3+x)*ci*co*4)
				s.p("%s.Add(%s).Store((*[8]float32)(%s))", load(kp, 0), v, kp)
			}
		}
	})
	return s.String()
}

// tileUnroll returns how many tiles the weight gradient's products take
// per iteration: the largest divisor of nt up to 5.
func tileUnroll(nt int) int {
	for u := 5; u > 1; u-- {
		if nt%u == 0 {
			return u
		}
	}
	return 1
}

// winoOutputGrad emits the transformed output gradient of layer i,
// A dY Aᵀ with A = [1 0; 1 1; 1 -1; 0 -1] for each tile, from dz at zb into
// m at mb ([position][tile][output channel]); zero must be a zero vector.
func (g *gen) winoOutputGrad(s *src, i int) {
	c := g.geom(i)
	co := c.co
	th, tw := g.winoTiles(i)
	nt := th * tw
	rowB, pixB := c.ow*co*4, co*4
	s.p("for ty := range %d {", th)
	s.p("for tx := range %d {", tw)
	s.p("zt := unsafe.Add(zb, ty*%d+tx*%d)", 2*rowB, 2*pixB)
	s.p("mt := unsafe.Add(mb, (ty*%d+tx)*%d)", tw, co*4)
	s.walk(co/8, []string{"zq", "mq"}, []string{"zt", "mt"}, []string{"32", "32"}, func() {
		for a := range 2 {
			for b := range 2 {
				s.p("y%d%d := %s", a, b, load("zq", a*rowB+b*pixB))
			}
		}
		// Rows of A dY, then their columns times Aᵀ.
		combine := func(r int, v0, v1 string) string {
			switch r {
			case 0:
				return v0
			case 1:
				return v0 + ".Add(" + v1 + ")"
			case 2:
				return v0 + ".Sub(" + v1 + ")"
			}
			return "zero.Sub(" + v1 + ")"
		}
		for r := range 4 {
			s.p("r%d_0 := %s", r, combine(r, "y00", "y10"))
			s.p("r%d_1 := %s", r, combine(r, "y01", "y11"))
		}
		for r := range 4 {
			for q := range 4 {
				v := combine(q, fmt.Sprintf("r%d_0", r), fmt.Sprintf("r%d_1", r))
				s.p("%s.Store((*[8]float32)(%s))", v, addr("mq", (r*4+q)*nt*co*4))
			}
		}
	})
	s.p("}")
	s.p("}")
}

// winoGradSIMD returns the body of winoGrad<i>(v, m, du, add): one
// position's gradient of the transformed kernel over one band of tiles,
// stored into du, or added to it with add; the product of the pre-broadcast
// transformed input v (input channels by tiles) and the
// transformed output gradient m (tiles by output channels), into du (input
// by output channels). Register blocks are 4 input channels by 2 vectors
// of output channels, summed over the tiles.
func (g *gen) winoGradSIMD(i int) string {
	l := &g.m.Layers[i]
	ci, co := l.In[2], l.Out[2]
	th, tw := g.winoTiles(i)
	nt := th * tw
	s := &src{}
	block := func(nv int, cOff string) {
		for j := range 4 {
			for v := range nv {
				s.p("var acc%d_%d archsimd.Float32x8", j, v)
			}
		}
		s.p("dt := unsafe.Add(du, c0*%d+%s)", co*4, cOff)
		s.p("if add {")
		for j := range 4 {
			for v := range nv {
				s.p("acc%d_%d = %s", j, v, load("dt", j*co*4+v*32))
			}
		}
		s.p("}")
		s.p("rt := unsafe.Add(v, c0*%d)", nt*32)
		s.p("mt := unsafe.Add(m, %s)", cOff)
		// The tiles are unrolled so that the accumulators, which Go
		// rotates through registers at the loop's back edge, move once
		// every few tiles.
		u := tileUnroll(nt)
		s.loop(nt/u, [][2]string{{"rt", fmt.Sprint(u * 32)}, {"mt", fmt.Sprint(u * co * 4)}}, func() {
			for st := range u {
				for v := range nv {
					s.p("w%d_%d := %s", st, v, load("mt", st*co*4+v*32))
				}
				for j := range 4 {
					s.p("x%d_%d := %s", st, j, load("rt", j*nt*32+st*32))
					for v := range nv {
						s.p("acc%d_%d = x%d_%d.MulAdd(w%d_%d, acc%d_%d)", j, v, st, j, st, v, j, v)
					}
				}
			}
		})
		for j := range 4 {
			for v := range nv {
				s.p("acc%d_%d.Store((*[8]float32)(%s))", j, v, addr("dt", j*co*4+v*32))
			}
		}
	}
	nv := co / 8
	s.p("for c0 := 0; c0 < %d; c0 += 4 {", ci)
	if nv/2 > 0 {
		s.p("for cb := 0; cb < %d; cb += 64 {", nv/2*64)
		block(2, "cb")
		s.p("}")
	}
	if nv%2 == 1 {
		s.p("{")
		block(1, fmt.Sprint(nv/2*64))
		s.p("}")
	}
	s.p("}")
	return s.String()
}

// bCols lists, for row a of B (column a of Bᵀ), its nonzero columns and
// their signs.
var bCols = [4][]struct {
	col  int
	sign int
}{
	{{0, 1}},
	{{1, 1}, {2, -1}, {3, 1}},
	{{0, -1}, {1, 1}, {2, 1}},
	{{3, -1}},
}

// combineB returns the sum of terms(k) with the signs of row a of B.
func combineB(a int, term func(k int) string) string {
	var e string
	for n, t := range bCols[a] {
		x := term(t.col)
		switch {
		case n == 0 && t.sign > 0:
			e = x
		case n == 0:
			e = "zero.Sub(" + x + ")"
		case t.sign > 0:
			e += ".Add(" + x + ")"
		default:
			e += ".Sub(" + x + ")"
		}
	}
	return e
}

// convInputWinoSIMD returns the body of a Winograd input gradient: for
// each tile, dV = U ⊙ (A dY Aᵀ) summed over output channels, one product
// per position (tiles by output channels times output by input channels,
// in wg.dv), and the input window's gradient B dV Bᵀ, added into din; the
// windows of neighbouring tiles overlap by two rows or columns. It uses
// the transformed kernel that the forward pass of the same sample left in
// wg.u.
func (g *gen) convInputWinoSIMD(i int) string {
	c := g.geom(i)
	ci, co := c.ci, c.co
	th, tw := g.winoTiles(i)
	nt := th * tw
	s := &src{}
	s.p("clear(din[:])")
	s.p("zf := unsafe.Pointer(&dz[0])")
	s.p("mb := unsafe.Pointer(&wg.m[0])")
	s.p("var zero archsimd.Float32x8")
	s.p("ub := unsafe.Pointer(&wg.u[0])")
	s.p("qb := unsafe.Pointer(&wg.dv[0])")
	s.p("dinb := unsafe.Pointer(&din[0])")
	// Band by band; the windows of the last row of tiles of a band overlap
	// those of the next band's first row, and both add into din.
	gh, _ := g.winoGrid(i)
	s.p("for ty0 := 0; ty0 < %d; ty0 += %d {", gh, th)
	s.p("zb := unsafe.Add(zf, ty0*%d)", 2*c.ow*co*4)
	s.p("db := unsafe.Add(dinb, ty0*%d)", 2*c.wp*ci*4)
	g.winoOutputGrad(s, i)
	for p := range 16 {
		s.p("winoBack%d(unsafe.Add(ub, %d), unsafe.Add(mb, %d), unsafe.Add(qb, %d))", i, p*ci*co*4, p*nt*co*4, p*nt*ci*4)
	}
	s.p("for ty := range %d {", th)
	s.p("for tx := range %d {", tw)
	s.p("qt := unsafe.Add(qb, (ty*%d+tx)*%d)", tw, ci*4)
	s.p("dt := unsafe.Add(db, ty*%d+tx*%d)", 2*c.wp*ci*4, 2*ci*4)
	s.walk(ci/8, []string{"qq", "dq"}, []string{"qt", "dt"}, []string{"32", "32"}, func() {
		for a := range 4 {
			// Row a of B dV: e_a_j = Σ_i B[a][i] dV[i][j].
			for j := range 4 {
				s.p("e%d_%d := %s", a, j, combineB(a, func(r int) string {
					return load("qq", (r*4+j)*nt*ci*4)
				}))
			}
			for b := range 4 {
				v := combineB(b, func(j int) string { return fmt.Sprintf("e%d_%d", a, j) })
				dp := addr("dq", (a*c.wp+b)*ci*4)
				s.p("%s.Add(%s).Store((*[8]float32)(%s))", load(dp, 0), v, dp)
			}
		}
	})
	s.p("}")
	s.p("}")
	s.p("}")
	return s.String()
}

// winoBackSIMD returns the body of winoBack<i>(u, m, q): one position's
// gradient of the transformed input, q[tile][input channel] = Σ over
// output channels of m[tile][output channel] u[input channel][output
// channel]. Register blocks are 2 tiles by 4 input channels, each
// accumulator a vector over output channels, summed horizontally at the
// end as in the direct input gradient.
func (g *gen) winoBackSIMD(i int) string {
	l := &g.m.Layers[i]
	ci, co := l.In[2], l.Out[2]
	th, tw := g.winoTiles(i)
	nt := th * tw
	nv := co / 8
	step := min(nv, 8)
	for nv%step != 0 {
		step--
	}
	s := &src{}
	// block emits np tiles whose output gradient is at zt and whose
	// result goes to qt, for the 4 input channels whose kernel rows are
	// at wc. The pointers are bumped, not indexed, so that every load has
	// a constant offset from a register.
	block := func(np int) {
		s.p("{")
		for j := range np {
			for ch := range 4 {
				s.p("var a%d_%d archsimd.Float32x8", j, ch)
			}
		}
		s.p("zv, wv := zt, wc")
		s.loop(nv/step, [][2]string{{"zv", fmt.Sprint(step * 32)}, {"wv", fmt.Sprint(step * 32)}}, func() {
			for v := range step {
				for j := range np {
					s.p("d%d_%d := %s", v, j, load("zv", j*co*4+v*32))
				}
				for ch := range 4 {
					// The kernel row is the receiver: it dies after np
					// uses, the output gradient after 4.
					s.p("w%d_%d := %s", v, ch, load("wv", ch*co*4+v*32))
					for j := range np {
						s.p("a%d_%d = w%d_%d.MulAdd(d%d_%d, a%d_%d)", j, ch, v, ch, v, j, j, ch)
					}
				}
			}
		})
		for j := range np {
			s.p("h%d01 := a%d_0.AddPairsGrouped(a%d_1)", j, j, j)
			s.p("h%d23 := a%d_2.AddPairsGrouped(a%d_3)", j, j, j)
			s.p("h%d := h%d01.AddPairsGrouped(h%d23)", j, j, j)
			s.p("h%d.GetLo().Add(h%d.GetHi()).Store((*[4]float32)(%s))", j, j, addr("qt", j*ci*4))
		}
		s.p("}")
	}
	s.p("wc, qc := u, q")
	s.loop(ci/4, [][2]string{{"wc", fmt.Sprint(4 * co * 4)}, {"qc", "16"}}, func() {
		if nt/2 > 0 {
			s.p("{")
			s.p("zt, qt := m, qc")
			s.loop(nt/2, [][2]string{{"zt", fmt.Sprint(2 * co * 4)}, {"qt", fmt.Sprint(2 * ci * 4)}}, func() {
				block(2)
			})
			s.p("}")
		}
		if nt%2 == 1 {
			s.p("{")
			s.p("zt, qt := unsafe.Add(m, %d), unsafe.Add(qc, %d)", (nt-1)*co*4, (nt-1)*ci*4)
			block(1)
			s.p("}")
		}
	})
	return s.String()
}
