package codegen

import (
	"fmt"
	"strings"

	"github.com/convc/convc/dsl"
	"github.com/dave/jennifer/jen"
)

// archsimdPath is the import path of Go's experimental SIMD package.
const archsimdPath = "simd/archsimd"

// The SIMD kernels follow the measurements in the research notes on Go's
// archsimd (go-simd-limits.md): 8-float vectors over output channels,
// register blocks of at most 8 accumulators (Go leaves 15 YMM registers
// free), MulAdd receivers that die (it is always VFMADD213), inputs
// pre-broadcast into memory so that the inner loops do plain loads instead
// of the slow BroadcastFloat32x8, constant offsets from pointers bumped with
// unsafe.Add, and ClearAVXUpperBits before returning to scalar code.
//
// Pointers are bumped only when another iteration follows, so no pointer
// ever points past the end of its array, where the garbage collector could
// take it for a pointer into a free span.

// simdConv reports whether layer l's convolution kernels have a SIMD
// version: they are vectorized over output channels, with a masked last
// vector when the channels are not a multiple of 8.
func simdConv(l *dsl.Layer) bool {
	return l.Kind == dsl.KindConv2D
}

// simdConvForward reports whether layer i's forward convolution has a SIMD
// version: the kernel fuses ReLU, and sigmoid and tanh follow it, row by
// row of live outputs, in scalar code (postActivation).
func (g *gen) simdConvForward(i int) bool {
	return simdConv(&g.m.Layers[i]) && simdAct(g.act(i))
}

// postActivation returns the statements that apply layer i's sigmoid or
// tanh after its forward kernel (named in the comment by after) has
// written the linear outputs, or nil for the activations the kernel
// fuses. Only the live outputs of a convolution (see gen.live) are
// activated; the others stay zero.
func (g *gen) postActivation(i int, after string) []jen.Code {
	a := g.act(i)
	if a != "sigmoid" && a != "tanh" {
		return nil
	}
	if g.m.Layers[i].Kind == dsl.KindDense {
		return []jen.Code{
			jen.Comment(a + ", after " + after + "."),
			jen.Qual(RuntimePath, activationFunc(a)).Call(jen.Id("out").Index(jen.Op(":")), jen.Id("out").Index(jen.Op(":"))),
		}
	}
	c := g.geom(i)
	row := func(lo, hi jen.Code) jen.Code { return jen.Id("out").Index(jen.Add(lo).Op(":").Add(hi)) }
	lo := jen.Id("oy").Op("*").Lit(c.ow * c.co)
	hi := jen.Id("oy").Op("*").Lit(c.ow * c.co).Op("+").Lit(c.lw * c.co)
	return []jen.Code{
		jen.Comment(a + " of the live outputs, after " + after + "."),
		jen.For(jen.Id("oy").Op(":=").Range().Lit(c.lh)).Block(
			jen.Qual(RuntimePath, activationFunc(a)).Call(row(lo, hi), row(lo.Clone(), hi.Clone())),
		),
	}
}

// simdConvInput reports whether layer i's input gradient has a SIMD
// version: it reduces over output channels in vectors and writes input
// channels in blocks of 8 or 4; with stride 1, a last block of fewer than
// 4 is written masked.
func simdConvInput(l *dsl.Layer) bool {
	return simdConv(l) && (l.In[2]%4 == 0 || l.Strides == [2]int{1, 1})
}

// bcSize returns the number of floats in the worker's broadcast scratch:
// the largest padded convolution input that a SIMD kernel pre-broadcasts,
// 8 copies of every value. It is 0 when no kernel needs it.
func (g *gen) bcSize() int {
	n := 0
	for i := range g.m.Layers {
		l := &g.m.Layers[i]
		if !simdConv(l) {
			continue
		}
		hp, wp := l.In[0]+l.Pad[0]+l.Pad[1], l.In[1]+l.Pad[2]+l.Pad[3]
		if g.tiled(i) && (g.tiledWeights(i) || !l.Trainable) {
			// The tiled kernels broadcast in registers.
			continue
		}
		n = max(n, hp*wp*l.In[2]*8)
		if g.wino(i) {
			n = max(n, g.winoBC(i))
		}
	}
	return n
}

// usesScratch reports whether the entry point of dispatched kernel name
// takes the worker's broadcast scratch as its last argument: the forward
// and weight-gradient kernels of convolutions, when any layer needs it.
func (g *gen) usesScratch(d dispatched) bool {
	return g.bcSize() > 0 && g.m.Layers[d.layer].Kind == dsl.KindConv2D &&
		(strings.HasPrefix(d.name, "forward") || strings.HasSuffix(d.name, "Weights"))
}

// scratchParam is the declaration of the scratch parameter.
func (g *gen) scratchParam() jen.Code { return jen.Id("bc").Add(arr(g.bcSize())) }

// scratchArg is the worker's scratch as an argument, for the kernel of
// layer i named name, or nil when that kernel takes none.
func (g *gen) scratchArg(i int, name string) jen.Code {
	if !g.usesScratch(dispatched{name: name, layer: i}) {
		return nil
	}
	return jen.Op("&").Id("w").Dot("bc")
}

// entryParams returns the parameters of a dispatched entry point.
func (g *gen) entryParams(d dispatched) []jen.Code {
	ps := append([]jen.Code(nil), d.params...)
	if g.usesScratch(d) {
		ps = append(ps, g.scratchParam())
	}
	if g.usesWino(d) {
		ps = append(ps, winoParam(d.layer))
	}
	if g.usesTile(d) {
		ps = append(ps, jen.Id("pk").Op("*").Qual(RuntimePath, "PackedConv"), jen.Id("ts").Op("*").Qual(RuntimePath, "ConvScratch"))
	}
	return ps
}

// genericCall returns the call of d's portable version with the entry
// point's arguments.
func genericCall(d dispatched) jen.Code {
	return jen.Id(d.name + "Generic").CallFunc(func(c *jen.Group) {
		for _, p := range d.params {
			c.Id(paramName(p))
		}
	})
}

// simdFile emits the entry points of the dispatched kernels for amd64
// builds with GOEXPERIMENT=simd. Each runs its SIMD version when the CPU
// has AVX2 and FMA, and its portable version otherwise or when no SIMD
// version exists for the layer's shape.
func (g *gen) simdFile() *jen.File {
	f := jen.NewFile(g.m.Name)
	f.HeaderComment(g.header())
	f.HeaderComment("//go:build goexperiment.simd && amd64")
	f.ImportName(archsimdPath, "archsimd")
	f.Comment("useSIMD is true when the CPU runs the AVX2 and FMA kernels of this file.")
	f.Var().Id("useSIMD").Op("=").Qual(archsimdPath, "X86").Dot("AVX2").Call().Op("&&").Qual(archsimdPath, "X86").Dot("FMA").Call()
	f.Comment("lanes8 numbers the lanes of a vector, for the indices that max pooling keeps.")
	f.Var().Id("lanes8").Op("=").Index(jen.Lit(8)).Int32().Values(jen.Lit(0), jen.Lit(1), jen.Lit(2), jen.Lit(3), jen.Lit(4), jen.Lit(5), jen.Lit(6), jen.Lit(7))
	if g.bcSize() > 0 || g.anyWideDense() {
		f.Comment("bcIdx are the permutations that broadcast each lane of a vector: convolution inputs, wide Dense inputs.")
		f.Var().Id("bcIdx").Op("=").Index(jen.Lit(8)).Index(jen.Lit(8)).Uint32().ValuesFunc(func(vs *jen.Group) {
			for k := range 8 {
				vs.ValuesFunc(func(ls *jen.Group) {
					for range 8 {
						ls.Lit(k)
					}
				})
			}
		})
	}
	for i := range g.m.Layers {
		if !g.wino(i) {
			continue
		}
		l := &g.m.Layers[i]
		g.winoType(f, i)
		f.Comment(fmt.Sprintf("winoKernel%d transforms the kernel of %s into wg.u when it differs from\n"+
			"the one last transformed, wg.kc.", i, l.Name))
		f.Func().Id(fmt.Sprintf("winoKernel%d", i)).Params(jen.Id("k").Add(arr(9*l.In[2]*l.Out[2])), winoParam(i)).Block(
			jen.Var().Id("_").Qual("unsafe", "Pointer"),
			jen.Id(g.winoKernelSIMD(i)),
		)
		f.Comment(fmt.Sprintf("winoGemm%d multiplies one position's transformed input v by its transformed\n"+
			"kernel u into m, for %s.", i, l.Name))
		f.Func().Id(fmt.Sprintf("winoGemm%d", i)).Params(jen.List(jen.Id("v"), jen.Id("u"), jen.Id("m")).Qual("unsafe", "Pointer")).Block(
			jen.Id(g.winoGemmSIMD(i)),
		)
		f.Comment(fmt.Sprintf("winoBack%d computes one position's gradient q of the transformed input\n"+
			"from the transformed kernel u and output gradient m, for %s.", i, l.Name))
		f.Func().Id(fmt.Sprintf("winoBack%d", i)).Params(jen.List(jen.Id("u"), jen.Id("m"), jen.Id("q")).Qual("unsafe", "Pointer")).Block(
			jen.Id(g.winoBackSIMD(i)),
		)
		if l.Trainable {
			f.Comment(fmt.Sprintf("winoGrad%d computes one position's gradient du of the transformed kernel\n"+
				"from the transformed input v and output gradient m, for %s.", i, l.Name))
			f.Func().Id(fmt.Sprintf("winoGrad%d", i)).Params(jen.List(jen.Id("v"), jen.Id("m"), jen.Id("du")).Qual("unsafe", "Pointer"), jen.Id("add").Bool()).Block(
				jen.Id(g.winoGradSIMD(i)),
			)
		}
	}
	for i := range g.m.Layers {
		l := &g.m.Layers[i]
		if l.Kind != dsl.KindDense || !simdDense(l) {
			continue
		}
		u := l.Units
		f.Comment(fmt.Sprintf("denseIdx%d spreads 8 inputs of %s over the %d vectors of their kernel rows:\n"+
			"lane l of vector m takes input (8m+l)/%d.", i, l.Name, u, u))
		f.Var().Id(fmt.Sprintf("denseIdx%d", i)).Op("=").Index(jen.Lit(u)).Index(jen.Lit(8)).Uint32().ValuesFunc(func(vs *jen.Group) {
			for m := range u {
				vs.ValuesFunc(func(ls *jen.Group) {
					for ln := range 8 {
						ls.Lit((8*m + ln) / u)
					}
				})
			}
		})
	}
	for _, d := range g.dispatch {
		l := &g.m.Layers[d.layer]
		var body string
		switch {
		case strings.HasSuffix(d.name, "Activation"):
			body = reluBackwardSIMD()
		case l.Kind == dsl.KindDense && strings.HasPrefix(d.name, "forward") && g.simdDenseForward(d.layer):
			body = g.denseForwardSIMD(d.layer)
		case l.Kind == dsl.KindDense && strings.HasPrefix(d.name, "forward") && wideDense(l) && simdAct(g.act(d.layer)):
			body = g.denseForwardWideSIMD(d.layer)
		case l.Kind == dsl.KindDense && strings.HasSuffix(d.name, "Weights") && wideDense(l):
			body = g.denseWeightsWideSIMD(d.layer)
		case l.Kind == dsl.KindDense && strings.HasSuffix(d.name, "Input") && l.In[0]%8 == 0:
			body = g.denseInputSIMD(d.layer)
		case l.Kind == dsl.KindDense && strings.HasSuffix(d.name, "Weights") && simdDense(l):
			body = g.denseWeightsSIMD(d.layer)
		case l.Kind == dsl.KindMaxPooling2D && strings.HasPrefix(d.name, "backward"):
			if simdPool(l) && l.Strides == l.Kernel {
				body = g.maxPoolBackwardSIMD(d.layer)
			}
		case l.Kind == dsl.KindAveragePooling2D && simdPool(l):
			body = g.avgPoolSIMD(d.layer, strings.HasPrefix(d.name, "forward"))
		case l.Kind == dsl.KindMaxPooling2D && simdPool(l):
			body = g.maxPoolSIMD(d.layer, strings.HasPrefix(d.name, "forward"))
		case l.Kind != dsl.KindConv2D:
		case d.name == fmt.Sprintf("forward%dPool", d.layer):
			body = g.convForwardTiledPool(d.layer)
		case strings.HasPrefix(d.name, "forward") && (g.tiled(d.layer) || d.name == fmt.Sprintf("forward%dInfer", d.layer)):
			body = g.convForwardTiled(d.layer)
		case strings.HasPrefix(d.name, "forward") && g.wino(d.layer):
			body = g.convForwardWinoSIMD(d.layer)
		case strings.HasPrefix(d.name, "forward") && g.simdConvForward(d.layer):
			body = g.convForwardSIMD(d.layer)
		case strings.HasSuffix(d.name, "Weights") && g.tiledWeights(d.layer):
			b := "nil"
			if l.UseBias {
				b = "db[:]"
			}
			body = fmt.Sprintf("runtime.ConvWeightsTiled(&tilePlan%d, in[:], dz[:], dk[:], %s, ts)", d.layer, b)
		case strings.HasSuffix(d.name, "Weights") && g.wino(d.layer):
			body = g.convWeightsWinoSIMD(d.layer)
		case strings.HasSuffix(d.name, "Weights") && simdConv(l):
			body = g.convWeightsSIMD(d.layer)
		case strings.HasSuffix(d.name, "Input") && g.tilesIn[d.layer] != nil:
			body = fmt.Sprintf("runtime.ConvInputTiled(&tileInPlan%d, k[:], dz[:], din[:], pk, ts)", d.layer)
		case strings.HasSuffix(d.name, "Input") && g.wino(d.layer):
			body = g.convInputWinoSIMD(d.layer)
		case strings.HasSuffix(d.name, "Input") && simdConvInput(l):
			body = g.convInputSIMD(d.layer)
		}
		params := g.entryParams(d)
		if body == "" {
			f.Comment(fmt.Sprintf("%s runs %sGeneric: %s has no SIMD version for its shape.", d.name, d.name, l.Name))
			f.Func().Id(d.name).Params(params...).Block(genericCall(d))
			continue
		}
		f.Comment(fmt.Sprintf("%s is the AVX2 version of %sGeneric: %s.", d.name, d.name, g.layerComment(l)))
		stmts := []jen.Code{
			jen.If(jen.Op("!").Id("useSIMD")).Block(genericCall(d), jen.Return()),
			// The first use of unsafe goes through jen so that it is imported.
			jen.Var().Id("_").Qual("unsafe", "Pointer"),
			jen.Id(body),
			raw("archsimd.ClearAVXUpperBits()"),
		}
		if (l.Kind == dsl.KindConv2D || l.Kind == dsl.KindDense) && strings.HasPrefix(d.name, "forward") {
			stmts = append(stmts, g.postActivation(d.layer, "the vector code")...)
		}
		f.Func().Id(d.name).Params(params...).Block(stmts...)
	}
	return f
}

// src accumulates the lines of a kernel body.
type src struct{ strings.Builder }

func (s *src) p(format string, args ...any) {
	fmt.Fprintf(s, format, args...)
	s.WriteByte('\n')
}

// load returns a vector load from pointer p plus a constant byte offset.
func load(p string, off int) string {
	return fmt.Sprintf("archsimd.LoadFloat32x8((*[8]float32)(%s))", addr(p, off))
}

// addr returns pointer p plus a constant byte offset.
func addr(p string, off int) string {
	if off == 0 {
		return p
	}
	return fmt.Sprintf("unsafe.Add(%s, %d)", p, off)
}

// tailMask emits the declaration of tail, the mask of the first n lanes,
// for the partial last vector of n < 8 channels.
func (s *src) tailMask(n int) {
	s.p("tail := archsimd.BroadcastInt32x8(%d).Greater(archsimd.LoadInt32x8(&lanes8))", n)
}

// loadM is load, or with masked a load of the lanes of tail only (the
// others read as zero, and memory past them is not touched).
func loadM(p string, off int, masked bool) string {
	if !masked {
		return load(p, off)
	}
	return fmt.Sprintf("archsimd.LoadMaskedFloat32x8((*[8]float32)(%s), tail)", addr(p, off))
}

// storeM returns the store of vector v at p plus off, of the lanes of tail
// only when masked.
func storeM(v, p string, off int, masked bool) string {
	if !masked {
		return fmt.Sprintf("%s.Store((*[8]float32)(%s))", v, addr(p, off))
	}
	return fmt.Sprintf("%s.StoreMasked((*[8]float32)(%s), tail)", v, addr(p, off))
}

// hsum8 emits the horizontal sums of the vectors a0 to a7 into a new
// vector dst, whose lane j is the sum of the lanes of aj: pairs within
// 128-bit lanes, then the lanes, so each sum is the pairwise tree
// ((0+1)+(2+3))+((4+5)+(6+7)).
func (s *src) hsum8(dst string) {
	s.p("h01 := a0.AddPairsGrouped(a1)")
	s.p("h23 := a2.AddPairsGrouped(a3)")
	s.p("h03 := h01.AddPairsGrouped(h23)")
	s.p("h45 := a4.AddPairsGrouped(a5)")
	s.p("h67 := a6.AddPairsGrouped(a7)")
	s.p("h47 := h45.AddPairsGrouped(h67)")
	s.p("%s := h03.Select128FromPair(0, 2, h47).Add(h03.Select128FromPair(1, 3, h47))", dst)
}

// loop emits body n times: unrolled when n is 1, and otherwise as a loop
// that bumps the given pointers by their strides only when another
// iteration follows.
func (s *src) loop(n int, bumps [][2]string, body func()) {
	if n == 0 {
		return
	}
	if n == 1 {
		body()
		return
	}
	s.p("for n := %d; ; {", n)
	body()
	s.p("n--")
	s.p("if n == 0 { break }")
	for _, b := range bumps {
		s.p("%s = unsafe.Add(%s, %s)", b[0], b[0], b[1])
	}
	s.p("}")
}

// walk emits body n times with the pointers ps, initialized from inits,
// bumped by strides between the iterations: loads and stores then take
// constant offsets from a register, where offsets from an index would
// cost an address computation each.
func (s *src) walk(n int, ps, inits, strides []string, body func()) {
	s.p("{")
	s.p("%s := %s", strings.Join(ps, ", "), strings.Join(inits, ", "))
	var bumps [][2]string
	for k := range ps {
		bumps = append(bumps, [2]string{ps[k], strides[k]})
	}
	s.loop(n, bumps, body)
	s.p("}")
}

// broadcast emits the pre-broadcast of the padded input into bc: 8 copies
// of every value, so that the kernels load a broadcast operand with a plain
// 256-bit load.
// Each vector of 8 inputs is spread by 8 permutations (VPERMPS with the
// index vectors of bcIdx), which costs half the time of a scalar load and
// a BroadcastFloat32x8 per value; the last len(in)%8 values are broadcast
// one by one.
func (s *src) broadcast() {
	s.p("bcp := unsafe.Pointer(&bc[0])")
	s.p("if len(in) >= 8 {")
	for k := range 8 {
		s.p("i%d := archsimd.LoadUint32x8(&bcIdx[%d])", k, k)
	}
	s.p("ip, op := unsafe.Pointer(&in[0]), bcp")
	s.p("for n := len(in) / 8; ; {")
	s.p("x := %s", load("ip", 0))
	for k := range 8 {
		s.p("x.Permute(i%d).Store((*[8]float32)(%s))", k, addr("op", k*32))
	}
	s.p("n--")
	s.p("if n == 0 { break }")
	s.p("ip = unsafe.Add(ip, 32)")
	s.p("op = unsafe.Add(op, 256)")
	s.p("}")
	s.p("}")
	s.p("for j := len(in) / 8 * 8; j < len(in); j++ { archsimd.BroadcastFloat32x8(in[j]).Store((*[8]float32)(unsafe.Add(bcp, j*32))) }")
}

// convGeom holds a convolution's shape with the byte strides the SIMD
// kernels use.
type convGeom struct {
	hp, wp, ci, oh, ow, co, kh, kw, sh, sw int
	// lh, lw are the output rows and columns that the next layer reads
	// (see gen.live); the others are never computed, and their gradient is
	// zero.
	lh, lw int
	// px is the bytes of one pre-broadcast input pixel (ci vectors).
	px int
}

func geom(l *dsl.Layer) convGeom {
	c := convGeom{
		hp: l.In[0] + l.Pad[0] + l.Pad[1], wp: l.In[1] + l.Pad[2] + l.Pad[3], ci: l.In[2],
		oh: l.Out[0], ow: l.Out[1], co: l.Out[2],
		kh: l.Kernel[0], kw: l.Kernel[1], sh: l.Strides[0], sw: l.Strides[1],
	}
	c.px = c.ci * 32
	c.lh, c.lw = c.oh, c.ow
	return c
}

// geom returns layer i's geometry with its live output region.
func (g *gen) geom(i int) convGeom {
	c := geom(&g.m.Layers[i])
	c.lh, c.lw = g.live(i)
	return c
}

// taps emits body for every kernel tap, unrolled with constant offsets
// when the window is small and as a loop otherwise. body receives the
// byte offset expressions of the tap in the pre-broadcast input and in the
// kernel.
func (c convGeom) taps(s *src, body func(inOff, wOff string)) {
	if c.kh*c.kw <= maxUnrolledTaps {
		for ky := range c.kh {
			for kx := range c.kw {
				s.p("// tap (%d, %d)", ky, kx)
				s.p("{")
				body(fmt.Sprint((ky*c.wp+kx)*c.px), fmt.Sprint((ky*c.kw+kx)*c.ci*c.co*4))
				s.p("}")
			}
		}
		return
	}
	s.p("for ky := range %d {", c.kh)
	s.p("for kx := range %d {", c.kw)
	body(fmt.Sprintf("(ky*%d+kx)*%d", c.wp, c.px), fmt.Sprintf("(ky*%d+kx)*%d", c.kw, c.ci*c.co*4))
	s.p("}")
	s.p("}")
}

// unroll returns how many input channels the inner loops take per
// iteration.
func unroll(ci int) int {
	for _, u := range []int{4, 2} {
		if ci%u == 0 {
			return u
		}
	}
	return 1
}

// convForwardSIMD returns the body of a forward convolution: blocks of 4
// output pixels of a row by 2 vectors of 8 output channels (8
// accumulators), bias loaded into the accumulators and ReLU fused into the
// stores. The last pixels of a row and the last vector of channels form
// smaller blocks.
func (g *gen) convForwardSIMD(i int) string {
	l := &g.m.Layers[i]
	c := g.geom(i)
	relu := g.act(i) == "relu"
	s := &src{}
	s.broadcast()
	s.p("ib := unsafe.Pointer(&bc[0])")
	s.p("kb := unsafe.Pointer(&k[0])")
	s.p("ob := unsafe.Pointer(&out[0])")
	if l.UseBias {
		s.p("bb := unsafe.Pointer(&b[0])")
	}
	if relu {
		s.p("var zero archsimd.Float32x8")
	}
	if c.co%8 != 0 {
		s.tailMask(c.co % 8)
	}
	u := unroll(c.ci)
	// block emits the pixels pix by nv vectors at channel byte offset cOff.
	// pix holds each pixel's byte offsets from ip in the pre-broadcast
	// input and from op in the output. With masked, the last vector holds
	// the co%8 channels of the tail.
	block := func(pix [][2]int, nv int, cOff string, masked bool) {
		np := len(pix)
		s.p("wc := unsafe.Add(kb, %s)", cOff)
		for j := range np {
			for v := range nv {
				switch {
				case !l.UseBias:
					s.p("var acc%d_%d archsimd.Float32x8", j, v)
				case j == 0:
					s.p("acc0_%d := %s", v, loadM(fmt.Sprintf("unsafe.Add(bb, %s)", cOff), v*32, masked && v == nv-1))
				default:
					s.p("acc%d_%d := acc0_%d", j, v, v)
				}
			}
		}
		c.taps(s, func(inOff, wOff string) {
			s.p("wt := unsafe.Add(wc, %s)", wOff)
			s.p("rt := unsafe.Add(ip, %s)", inOff)
			s.loop(c.ci/u, [][2]string{{"wt", fmt.Sprint(u * c.co * 4)}, {"rt", fmt.Sprint(u * 32)}}, func() {
				for st := range u {
					for v := range nv {
						s.p("w%d_%d := %s", st, v, loadM("wt", st*c.co*4+v*32, masked && v == nv-1))
					}
					for j := range np {
						s.p("x%d_%d := %s", st, j, load("rt", pix[j][0]+st*32))
						for v := range nv {
							// The input vector is the receiver: it dies after
							// nv uses, the weights after np.
							s.p("acc%d_%d = x%d_%d.MulAdd(w%d_%d, acc%d_%d)", j, v, st, j, st, v, j, v)
						}
					}
				}
			})
		})
		s.p("oc := unsafe.Add(op, %s)", cOff)
		for j := range np {
			for v := range nv {
				val := fmt.Sprintf("acc%d_%d", j, v)
				if relu {
					val += ".Max(zero)"
				}
				s.p("%s", storeM(val, "oc", pix[j][1]+v*32, masked && v == nv-1))
			}
		}
	}
	// pixels emits the channel blocks of the pixels pix.
	pixels := func(pix [][2]int) {
		nv := c.co / 8
		if nv >= 2 {
			s.p("for cb := range %d {", nv/2)
			block(pix, 2, "cb*64", false)
			s.p("}")
		}
		if nv%2 == 1 {
			s.p("{")
			block(pix, 1, fmt.Sprint(nv/2*64), false)
			s.p("}")
		}
		if c.co%8 != 0 {
			s.p("{")
			block(pix, 1, fmt.Sprint(nv*32), true)
			s.p("}")
		}
	}
	// run returns n pixels of a row, from column 0 of row dy.
	run := func(dy, n int) [][2]int {
		var pix [][2]int
		for dx := range n {
			pix = append(pix, [2]int{(dy*c.sh*c.wp + dx*c.sw) * c.px, (dy*c.ow + dx) * c.co * 4})
		}
		return pix
	}
	full, r := c.lw/4*4, c.lw%4
	// row emits the blocks of 4 pixels of row oy, and its last r pixels
	// unless they are paired with the next row's.
	row := func(oy string, tail bool) {
		if full > 0 {
			s.p("for ox := 0; ox < %d; ox += 4 {", full)
			s.p("ip := unsafe.Add(ib, (%s*%d+ox*%d)*%d)", oy, c.sh*c.wp, c.sw, c.px)
			s.p("op := unsafe.Add(ob, (%s*%d+ox)*%d)", oy, c.ow, c.co*4)
			pixels(run(0, 4))
			s.p("}")
		}
		if tail && r > 0 {
			s.p("{")
			s.p("ip := unsafe.Add(ib, (%s*%d+%d)*%d)", oy, c.sh*c.wp, full*c.sw, c.px)
			s.p("op := unsafe.Add(ob, (%s*%d+%d)*%d)", oy, c.ow, full, c.co*4)
			pixels(run(0, r))
			s.p("}")
		}
	}
	// The last 1 or 2 pixels of two rows form one block, which keeps
	// twice as many accumulators busy as a block of one row's.
	if pair := r > 0 && r <= 2 && c.lh >= 2; pair {
		s.p("for oy := 0; oy < %d; oy += 2 {", c.lh/2*2)
		if full > 0 {
			s.p("for oy1 := oy; oy1 < oy+2; oy1++ {")
			row("oy1", false)
			s.p("}")
		}
		s.p("{")
		s.p("ip := unsafe.Add(ib, (oy*%d+%d)*%d)", c.sh*c.wp, full*c.sw, c.px)
		s.p("op := unsafe.Add(ob, (oy*%d+%d)*%d)", c.ow, full, c.co*4)
		pixels(append(run(0, r), run(1, r)...))
		s.p("}")
		s.p("}")
		if c.lh%2 == 1 {
			s.p("{")
			row(fmt.Sprint(c.lh-1), true)
			s.p("}")
		}
		return s.String()
	}
	s.p("for oy := range %d {", c.lh)
	row("oy", true)
	s.p("}")
	return s.String()
}

// l1Budget is the bytes of operands that a weight-gradient kernel keeps in
// L1 (32 KiB) while it accumulates one group of kernel rows: the
// pre-broadcast input rows and the output-gradient rows of one channel
// block.
const l1Budget = 24 << 10

// wRows is a group of rows of the kernel gradient, each a (tap, input
// channel) pair: their byte offsets in the pre-broadcast input relative to
// inBase and in dk relative to dkBase.
type wRows struct {
	inBase, dkBase string
	in, dk         []int
}

// pixelUnroll returns how many pixels of a row of n the weight-gradient
// loops take per iteration: all of them when there are at most 16, and
// otherwise the largest divisor of n up to 16 (1 when n is prime).
func pixelUnroll(n int) int {
	for u := min(n, 16); u > 1; u-- {
		if n%u == 0 {
			return u
		}
	}
	return 1
}

// convWeightsSIMD returns the body of a convolution's weight gradient.
// The kernel gradient is a matrix product over output pixels: each row
// (tap, input channel) is the pre-broadcast input at that tap times dz.
// A register block holds up to 4 rows by 2 vectors of output channels
// (8 accumulators) and sums over output pixels. The loops run input
// channel blocks, then output channel blocks, then taps, so that the
// input region of 4 channels and dz's slice of one channel block stay in
// L1 across the taps; when they do not fit, the output rows are split into
// chunks. With fewer than 4 input channels the rows of all taps are
// grouped by 4 with constant offsets.
func (g *gen) convWeightsSIMD(i int) string {
	l := &g.m.Layers[i]
	c := g.geom(i)
	s := &src{}
	if c.ci%4 == 0 {
		// The input is pre-broadcast in planes of 4 channels, so that the
		// region a block reads is contiguous: with all channels of a pixel
		// together, pixels lie a multiple of 1 KiB apart and fill only a
		// few sets of the L1 cache.
		s.p("bcp := unsafe.Pointer(&bc[0])")
		s.p("for p := range %d {", c.hp*c.wp)
		s.p("ip := (*[%d]float32)(in[p*%d:])", c.ci, c.ci)
		s.p("op := unsafe.Add(bcp, p*128)")
		s.p("for cb := range %d {", c.ci/4)
		for k := range 4 {
			s.p("archsimd.BroadcastFloat32x8(ip[cb*4+%d]).Store((*[8]float32)(%s))", k, addr("op", k*32))
		}
		s.p("op = unsafe.Add(op, %d)", c.hp*c.wp*128)
		s.p("}")
		s.p("}")
		c.px = 128
	} else {
		s.broadcast()
	}
	s.p("ib := unsafe.Pointer(&bc[0])")
	s.p("zb := unsafe.Pointer(&dz[0])")
	s.p("kb := unsafe.Pointer(&dk[0])")
	nvAll := c.co / 8
	if c.co%8 != 0 {
		s.tailMask(c.co % 8)
	}
	if l.UseBias {
		// The bias gradient sums dz over pixels, 8 vectors at a time; a
		// partial last vector is masked.
		s.p("gb := unsafe.Pointer(&db[0])")
		nvT := (c.co + 7) / 8
		for v0 := 0; v0 < nvT; v0 += 8 {
			nv := min(8, nvT-v0)
			m := func(v int) bool { return c.co%8 != 0 && v0+v == nvT-1 }
			s.p("{")
			for v := range nv {
				s.p("s%d := %s", v, loadM("gb", (v0+v)*32, m(v)))
			}
			s.p("zp := zb")
			s.loop(c.oh*c.ow, [][2]string{{"zp", fmt.Sprint(c.co * 4)}}, func() {
				for v := range nv {
					s.p("s%d = s%d.Add(%s)", v, v, loadM("zp", (v0+v)*32, m(v)))
				}
			})
			for v := range nv {
				s.p("%s", storeM(fmt.Sprintf("s%d", v), "gb", (v0+v)*32, m(v)))
			}
			s.p("}")
		}
	}
	nRows := c.kh * c.kw * c.ci
	// static: the rows of all taps are enumerated with constant offsets.
	static := c.ci%4 != 0 && nRows <= 64
	nvMax := 2
	if c.ci%4 != 0 && !static {
		nvMax = 4
	}
	// Chunks of output rows: the largest that keep the operands of one
	// block group within l1Budget.
	pxBytes := c.px
	if c.ci%4 != 0 && !static {
		pxBytes = 32
	}
	chunk := c.lh
	for chunk > 1 && ((chunk-1)*c.sh+c.kh)*c.wp*pxBytes+chunk*c.lw*nvMax*32 > l1Budget {
		chunk--
	}
	// Chunks of equal size, but for the last.
	chunk = (c.lh + (c.lh+chunk-1)/chunk - 1) / ((c.lh + chunk - 1) / chunk)
	rowStart, rowEnd := "0", fmt.Sprint(c.lh)
	if chunk < c.lh {
		s.p("for oy0 := 0; oy0 < %d; oy0 += %d {", c.lh, chunk)
		s.p("oy1 := min(oy0+%d, %d)", chunk, c.lh)
		rowStart, rowEnd = "oy0", "oy1"
	}
	// block emits the accumulation of rows r by nv vectors at channel byte
	// offset cOff, and its addition into dk. With masked, the last vector
	// holds the co%8 channels of the tail.
	block := func(r wRows, nv int, cOff string, masked bool) {
		nr := len(r.in)
		for j := range nr {
			for v := range nv {
				s.p("var acc%d_%d archsimd.Float32x8", j, v)
			}
		}
		// The row pointers are bumped rather than computed from the row,
		// so that they live in registers and the loads fold constant
		// offsets.
		s.p("ry := unsafe.Add(ib, %s*%d+%s)", rowStart, c.sh*c.wp*c.px, r.inBase)
		s.p("zy := unsafe.Add(zb, %s*%d+%s)", rowStart, c.ow*c.co*4, cOff)
		s.p("for rows := %s - %s; ; {", rowEnd, rowStart)
		s.p("rt, zp := ry, zy")
		// The pixels of a row are unrolled u at a time: the accumulators
		// then rotate through registers once per u pixels, not per pixel.
		u := pixelUnroll(c.lw)
		s.loop(c.lw/u, [][2]string{{"rt", fmt.Sprint(u * c.sw * c.px)}, {"zp", fmt.Sprint(u * c.co * 4)}}, func() {
			for k := range u {
				xo, zo := k*c.sw*c.px, k*c.co*4
				// The operand used fewer times is the receiver, so that
				// it dies and MulAdd needs fewest register copies.
				if nv <= nr {
					for v := range nv {
						s.p("d%d_%d := %s", k, v, loadM("zp", zo+v*32, masked && v == nv-1))
					}
					for j := range nr {
						s.p("x%d_%d := %s", k, j, load("rt", xo+r.in[j]))
						for v := range nv {
							s.p("acc%d_%d = x%d_%d.MulAdd(d%d_%d, acc%d_%d)", j, v, k, j, k, v, j, v)
						}
					}
				} else {
					for j := range nr {
						s.p("x%d_%d := %s", k, j, load("rt", xo+r.in[j]))
					}
					for v := range nv {
						s.p("d%d_%d := %s", k, v, loadM("zp", zo+v*32, masked && v == nv-1))
						for j := range nr {
							s.p("acc%d_%d = d%d_%d.MulAdd(x%d_%d, acc%d_%d)", j, v, k, v, k, j, j, v)
						}
					}
				}
			}
		})
		s.p("rows--")
		s.p("if rows == 0 { break }")
		s.p("ry = unsafe.Add(ry, %d)", c.sh*c.wp*c.px)
		s.p("zy = unsafe.Add(zy, %d)", c.ow*c.co*4)
		s.p("}")
		s.p("kt := unsafe.Add(kb, %s+%s)", r.dkBase, cOff)
		for j := range nr {
			for v := range nv {
				m := masked && v == nv-1
				s.p("%s", storeM(fmt.Sprintf("%s.Add(acc%d_%d)", loadM("kt", r.dk[j]+v*32, m), j, v), "kt", r.dk[j]+v*32, m))
			}
		}
	}
	// channels emits body for every block of output channels: nvMax
	// vectors at a time, then the remaining vectors, then the masked
	// partial vector.
	channels := func(body func(nv int, cOff string, masked bool)) {
		if nvAll >= nvMax {
			s.p("for cb := range %d {", nvAll/nvMax)
			body(nvMax, fmt.Sprintf("cb*%d", nvMax*32), false)
			s.p("}")
		}
		if r := nvAll % nvMax; r > 0 {
			s.p("{")
			body(r, fmt.Sprint(nvAll/nvMax*nvMax*32), false)
			s.p("}")
		}
		if c.co%8 != 0 {
			s.p("{")
			body(1, fmt.Sprint(nvAll*32), true)
			s.p("}")
		}
	}
	switch {
	case c.ci%4 == 0:
		s.p("for cib := range %d {", c.ci/4)
		channels(func(nv int, cOff string, masked bool) {
			c.taps(s, func(inOff, wOff string) {
				block(wRows{
					inBase: fmt.Sprintf("%s+cib*%d", inOff, c.hp*c.wp*128),
					dkBase: fmt.Sprintf("%s+cib*%d", wOff, 4*c.co*4),
					in:     []int{0, 32, 64, 96},
					dk:     []int{0, c.co * 4, 2 * c.co * 4, 3 * c.co * 4},
				}, nv, cOff, masked)
			})
		})
		s.p("}")
	case static:
		// Groups of at most 4 rows, as even as possible.
		ng := (nRows + 3) / 4
		channels(func(nv int, cOff string, masked bool) {
			for gi := range ng {
				r := wRows{inBase: "0", dkBase: "0"}
				for row := gi * nRows / ng; row < (gi+1)*nRows/ng; row++ {
					t, ch := row/c.ci, row%c.ci
					ky, kx := t/c.kw, t%c.kw
					r.in = append(r.in, (ky*c.wp+kx)*c.px+ch*32)
					r.dk = append(r.dk, row*c.co*4)
				}
				s.p("{")
				block(r, nv, cOff, masked)
				s.p("}")
			}
		})
	default:
		// One input channel at a time by up to 4 vectors.
		c.taps(s, func(inOff, wOff string) {
			s.p("for ci := range %d {", c.ci)
			channels(func(nv int, cOff string, masked bool) {
				block(wRows{
					inBase: fmt.Sprintf("%s+ci*32", inOff),
					dkBase: fmt.Sprintf("%s+ci*%d", wOff, c.co*4),
					in:     []int{0}, dk: []int{0},
				}, nv, cOff, masked)
			})
			s.p("}")
		})
	}
	if chunk < c.lh {
		s.p("}")
	}
	return s.String()
}

// dinStep is the most vectors of output channels per iteration of the
// input gradient's inner loops. Unrolling all of them (8 for 64 channels)
// lets the scheduler hoist loads above the multiply-adds until registers
// spill; 4 measured as fast as 2 and spills nothing.
const dinStep = 4

// convInputSIMD returns the body of a convolution's input gradient. With
// stride 1 each block of 2 input pixels by 4 input channels keeps 8
// accumulators over output-channel lanes: for every tap that reaches a
// pixel, dz at the pixel minus the tap times the kernel rows of the 4
// channels, then horizontal sums. The loops run channel blocks outermost,
// so that their kernel rows stay in L1, then input rows, whose valid
// kernel rows are a range computed at run time, then blocks of pixels:
// those near the left and right edges are emitted with only the taps that
// reach each pixel, and the interior as a loop. No multiply-add touches a
// zero. Every element of din is written, so it needs no clearing.
func (g *gen) convInputSIMD(i int) string {
	c := g.geom(i)
	if c.sh != 1 || c.sw != 1 {
		return g.convInputGatherSIMD(i)
	}
	s := &src{}
	// Rows below the reach of the live output rows get no tap. They are
	// cleared first, while the upper halves of the vector registers are
	// still clean for memclr.
	rows := min(c.hp, c.lh-1+c.kh)
	if rows < c.hp {
		s.p("clear(din[%d:])", rows*c.wp*c.ci)
	}
	s.p("kb := unsafe.Pointer(&k[0])")
	s.p("zb := unsafe.Pointer(&dz[0])")
	s.p("qb := unsafe.Pointer(&din[0])")
	rowB, wRow := c.ow*c.co*4, c.ci*c.co*4
	nv := c.co / 8
	step := max(1, min(nv, dinStep))
	for nv%step != 0 {
		step--
	}
	if c.co%8 != 0 {
		s.tailMask(c.co % 8)
	}
	if c.ci%4 != 0 {
		// The last block of input channels holds ci%4 of them: its
		// missing kernel rows sum as zero, and its stores are masked.
		s.p("var z8 archsimd.Float32x8")
		s.p("tail4 := archsimd.BroadcastInt32x4(%d).Greater(archsimd.LoadInt32x8(&lanes8).GetLo())", c.ci%4)
	}
	// nch is the number of input channels of the block being emitted.
	nch := 4
	// block emits np pixels starting at column qx0: the constant column,
	// or -1 for the interior loop's column qx, where every tap is valid.
	block := func(np, qx0 int) {
		valid := func(j, kx int) bool {
			if qx0 < 0 {
				return true
			}
			x := qx0 + j - kx
			return x >= 0 && x < c.lw
		}
		s.p("{")
		for j := range np {
			for ch := range nch {
				s.p("var a%d_%d archsimd.Float32x8", j, ch)
			}
		}
		col := "zb"
		if qx0 < 0 {
			col = "zq"
		}
		s.p("zr := unsafe.Add(%s, (qy-ky0)*%d)", col, rowB)
		s.p("wr := unsafe.Add(wc, ky0*%d)", c.kw*wRow)
		s.p("for ky := ky0; ; ky++ {")
		for kx := range c.kw {
			var js []int
			for j := range np {
				if valid(j, kx) {
					js = append(js, j)
				}
			}
			if len(js) == 0 {
				continue
			}
			zOff := (js[0] - kx) * c.co * 4
			if qx0 >= 0 {
				zOff += qx0 * c.co * 4
			}
			s.p("// tap (ky, %d)", kx)
			s.p("{")
			s.p("zt := %s", addr("zr", zOff))
			s.p("wt := %s", addr("wr", kx*wRow))
			if c.co%8 != 0 {
				// The partial last vector of output channels, masked in
				// both operands so that its other lanes add zero.
				for _, j := range js {
					s.p("dt_%d := %s", j, loadM("zt", (j-js[0])*c.co*4+nv*32, true))
				}
				for ch := range nch {
					s.p("wt_%d := %s", ch, loadM("wt", ch*c.co*4+nv*32, true))
					for _, j := range js {
						s.p("a%d_%d = wt_%d.MulAdd(dt_%d, a%d_%d)", j, ch, ch, j, j, ch)
					}
				}
			}
			s.loop(nv/step, [][2]string{{"zt", fmt.Sprint(step * 32)}, {"wt", fmt.Sprint(step * 32)}}, func() {
				for v := range step {
					for _, j := range js {
						s.p("d%d_%d := %s", v, j, load("zt", (j-js[0])*c.co*4+v*32))
					}
					for ch := range nch {
						// The kernel row is the receiver: it dies after
						// at most 2 uses, dz after 4.
						s.p("w%d_%d := %s", v, ch, load("wt", ch*c.co*4+v*32))
						for _, j := range js {
							s.p("a%d_%d = w%d_%d.MulAdd(d%d_%d, a%d_%d)", j, ch, v, ch, v, j, j, ch)
						}
					}
				}
			})
			s.p("}")
		}
		s.p("if ky == ky1 { break }")
		s.p("zr = unsafe.Add(zr, %d)", -rowB)
		s.p("wr = unsafe.Add(wr, %d)", c.kw*wRow)
		s.p("}")
		// Horizontal sums: pairs within 128-bit lanes, then the lanes.
		for j := range np {
			a := func(ch int) string {
				if ch < nch {
					return fmt.Sprintf("a%d_%d", j, ch)
				}
				return "z8"
			}
			s.p("h%d01 := %s.AddPairsGrouped(%s)", j, a(0), a(1))
			s.p("h%d23 := %s.AddPairsGrouped(%s)", j, a(2), a(3))
			s.p("h%d := h%d01.AddPairsGrouped(h%d23)", j, j, j)
			q := "dq"
			off := j * c.ci * 4
			if qx0 >= 0 {
				off += qx0 * c.ci * 4
			} else {
				q = "dx"
			}
			if nch < 4 {
				s.p("h%d.GetLo().Add(h%d.GetHi()).StoreMasked((*[4]float32)(%s), tail4)", j, j, addr(q, off))
			} else {
				s.p("h%d.GetLo().Add(h%d.GetHi()).Store((*[4]float32)(%s))", j, j, addr(q, off))
			}
		}
		s.p("}")
	}
	// rowsOf emits the rows of input gradient of the block of input
	// channels cb.
	rowsOf := func() {
		s.p("for qy := range %d {", rows)
		s.p("ky0, ky1 := max(0, qy-%d), min(%d, qy)", c.lh-1, c.kh-1)
		s.p("dq := unsafe.Add(qb, qy*%d+cb*16)", c.wp*c.ci*4)
		// The interior columns [a, b] see every tap.
		a, b := c.kw-1, c.lw-1
		if a > b {
			a, b = c.wp, c.wp-1
		}
		static := func(x0, x1 int) {
			for x := x0; x < x1; x += 2 {
				block(min(2, x1-x), x)
			}
		}
		static(0, a)
		if pairs := (b - a + 1) / 2; pairs > 0 {
			s.p("{")
			s.p("zq := unsafe.Add(zb, %d)", a*c.co*4)
			s.p("dx := unsafe.Add(dq, %d)", a*c.ci*4)
			s.p("for n := %d; ; {", pairs)
			block(2, -1)
			s.p("n--")
			s.p("if n == 0 { break }")
			s.p("zq = unsafe.Add(zq, %d)", 2*c.co*4)
			s.p("dx = unsafe.Add(dx, %d)", 2*c.ci*4)
			s.p("}")
			s.p("}")
		}
		if (b-a+1)%2 == 1 {
			block(1, b)
		}
		static(b+1, c.wp)
		s.p("}")
	}
	if c.ci/4 > 0 {
		s.p("for cb := range %d {", c.ci/4)
		s.p("wc := unsafe.Add(kb, cb*%d)", 4*c.co*4)
		rowsOf()
		s.p("}")
	}
	if c.ci%4 != 0 {
		nch = c.ci % 4
		s.p("{")
		s.p("const cb = %d", c.ci/4)
		s.p("wc := unsafe.Add(kb, cb*%d)", 4*c.co*4)
		rowsOf()
		s.p("}")
	}
	return s.String()
}

// convInputGatherSIMD returns the body of a strided convolution's input
// gradient. Each input pixel gathers the output pixels and taps that read it, and each
// block of 8 (or 4) input channels keeps one accumulator per channel,
// summing dz times the kernel row in vectors over output channels; a
// horizontal sum at the end gives the channels' gradients. Every element
// of din is written, so it needs no clearing.
func (g *gen) convInputGatherSIMD(i int) string {
	c := g.geom(i)
	s := &src{}
	s.p("kb := unsafe.Pointer(&k[0])")
	s.p("zb := unsafe.Pointer(&dz[0])")
	s.p("qb := unsafe.Pointer(&din[0])")
	nb := 8
	if c.ci%8 != 0 {
		nb = 4
	}
	if c.co%8 != 0 {
		s.tailMask(c.co % 8)
	}
	s.p("for qy := range %d {", c.hp)
	s.p("for qx := range %d {", c.wp)
	s.p("dq := unsafe.Add(qb, (qy*%d+qx)*%d)", c.wp, c.ci*4)
	s.p("for cb := range %d {", c.ci/nb)
	for j := range nb {
		s.p("var a%d archsimd.Float32x8", j)
	}
	s.p("for ky := range %d {", c.kh)
	s.p("ty := qy - ky")
	cond := fmt.Sprintf("ty < 0 || ty > %d", (c.lh-1)*c.sh)
	if c.sh > 1 {
		cond += fmt.Sprintf(" || ty%%%d != 0", c.sh)
	}
	s.p("if %s { continue }", cond)
	s.p("for kx := range %d {", c.kw)
	s.p("tx := qx - kx")
	cond = fmt.Sprintf("tx < 0 || tx > %d", (c.lw-1)*c.sw)
	if c.sw > 1 {
		cond += fmt.Sprintf(" || tx%%%d != 0", c.sw)
	}
	s.p("if %s { continue }", cond)
	s.p("zp := unsafe.Add(zb, (ty/%d*%d+tx/%d)*%d)", c.sh, c.ow, c.sw, c.co*4)
	s.p("wp := unsafe.Add(kb, ((ky*%d+kx)*%d+cb*%d)*%d)", c.kw, c.ci, nb, c.co*4)
	// The vectors of output channels are unrolled with constant offsets
	// when there are few of them.
	nv, step := c.co/8, 1
	if nv <= 16 {
		nv, step = 1, c.co/8
	}
	if c.co%8 != 0 {
		// The partial last vector of output channels, masked in both
		// operands so that its other lanes add zero.
		s.p("dt := %s", loadM("zp", c.co/8*32, true))
		for j := range nb {
			s.p("a%d = %s.MulAdd(dt, a%d)", j, loadM("wp", j*c.co*4+c.co/8*32, true), j)
		}
	}
	s.loop(nv, [][2]string{{"zp", fmt.Sprint(step * 32)}, {"wp", fmt.Sprint(step * 32)}}, func() {
		for v := range step {
			s.p("d%d := %s", v, load("zp", v*32))
			for j := range nb {
				s.p("a%d = %s.MulAdd(d%d, a%d)", j, load("wp", j*c.co*4+v*32), v, j)
			}
		}
	})
	s.p("}")
	s.p("}")
	if nb == 8 {
		s.hsum8("sum")
		s.p("sum.Store((*[8]float32)(unsafe.Add(dq, cb*32)))")
	} else {
		// Horizontal sums: pairs within 128-bit lanes, then the lanes.
		s.p("h01 := a0.AddPairsGrouped(a1)")
		s.p("h23 := a2.AddPairsGrouped(a3)")
		s.p("h03 := h01.AddPairsGrouped(h23)")
		s.p("sum := h03.GetLo().Add(h03.GetHi())")
		s.p("sum.Store((*[4]float32)(unsafe.Add(dq, cb*16)))")
	}
	s.p("}")
	s.p("}")
	s.p("}")
	return s.String()
}

// simdPool reports whether a max pooling layer has a SIMD version: valid
// windows over channels in whole vectors.
func simdPool(l *dsl.Layer) bool { return !hasPad(l) }

// maxPoolSIMD emits the body of a max pooling kernel, 8 channels at a time.
// With withArg it also keeps the index of the first maximum of each
// window, as the portable kernel does: a later cell replaces the maximum
// only when it is strictly greater.
func (g *gen) maxPoolSIMD(i int, withArg bool) string {
	l := &g.m.Layers[i]
	w, c := l.In[1], l.In[2]
	oh, ow := l.Out[0], l.Out[1]
	kh, kw, sh, sw := l.Kernel[0], l.Kernel[1], l.Strides[0], l.Strides[1]
	var s src
	s.p("inp, outp := unsafe.Pointer(&in[0]), unsafe.Pointer(&out[0])")
	if withArg {
		s.p("argp := unsafe.Pointer(&arg[0])")
		// A package-level table: a composite literal here would be zeroed
		// with SSE stores.
		s.p("lanes := archsimd.LoadInt32x8(&lanes8)")
	}
	s.p("for oy := range %d {", oh)
	s.p("for ox := range %d {", ow)
	s.p("first := (oy*%d + ox*%d) * %d", sh*w, sw, c)
	s.p("ip := unsafe.Add(inp, first*4)")
	s.p("op := unsafe.Add(outp, (oy*%d+ox)*%d)", ow, c*4)
	if withArg {
		s.p("ap := unsafe.Add(argp, (oy*%d+ox)*%d)", ow, c*4)
	}
	if c%8 != 0 {
		s.tailMask(c % 8)
	}
	// The last vector of channels is masked when c is not a multiple of 8.
	for cb := 0; cb < (c+7)/8; cb++ {
		mk := cb == c/8
		s.p("{")
		s.p("m := %s", loadM("ip", cb*32, mk))
		if withArg {
			s.p("idx := lanes.Add(archsimd.BroadcastInt32x8(int32(first + %d)))", cb*8)
		}
		for ky := 0; ky < kh; ky++ {
			for kx := 0; kx < kw; kx++ {
				if ky == 0 && kx == 0 {
					continue
				}
				off := (ky*w + kx) * c
				if withArg {
					s.p("if v := %s; true {", loadM("ip", (off+cb*8)*4, mk))
					s.p("gt := v.Greater(m)")
					s.p("m = v.Merge(m, gt)")
					s.p("idx = lanes.Add(archsimd.BroadcastInt32x8(int32(first + %d))).Merge(idx, gt)", off+cb*8)
					s.p("}")
				} else {
					s.p("m = m.Max(%s)", loadM("ip", (off+cb*8)*4, mk))
				}
			}
		}
		s.p("%s", storeM("m", "op", cb*32, mk))
		if withArg && mk {
			s.p("idx.StoreMasked((*[8]int32)(%s), tail)", addr("ap", cb*32))
		} else if withArg {
			s.p("idx.Store((*[8]int32)(%s))", addr("ap", cb*32))
		}
		s.p("}")
	}
	s.p("}")
	s.p("}")
	return s.String()
}

// reluBackwardSIMD emits the body of a ReLU gradient over a whole number of
// vectors: d is kept where the output y is positive and zeroed elsewhere.
func reluBackwardSIMD() string {
	var s src
	s.p("var zero archsimd.Float32x8")
	s.p("yp, dp := unsafe.Pointer(&y[0]), unsafe.Pointer(&d[0])")
	s.p("for j := 0; j < len(y); j += 8 {")
	s.p("m := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(yp, j*4))).Greater(zero)")
	s.p("dv := (*[8]float32)(unsafe.Add(dp, j*4))")
	s.p("archsimd.LoadFloat32x8(dv).Masked(m).Store(dv)")
	s.p("}")
	return s.String()
}

// denseMaxUnits is the most units of a Dense layer with SIMD kernels: their
// loops unroll one vector per unit.
const denseMaxUnits = 64

// densePeriod returns the number of vectors after which the pattern of
// units over the lanes of consecutive kernel rows repeats.
func densePeriod(u int) int {
	p := 1
	for p*8%u != 0 {
		p++
	}
	return p
}

// simdDense reports whether a Dense layer has SIMD kernels: the inputs
// come in whole vectors, and one period of units fits in 8 accumulators.
func simdDense(l *dsl.Layer) bool {
	return l.In[0]%8 == 0 && l.Units <= denseMaxUnits && densePeriod(l.Units) <= 8
}

// simdDenseForward reports whether layer i's forward Dense kernel has a
// SIMD version: the kernel fuses ReLU, and sigmoid and tanh follow it in
// scalar code (postActivation).
func (g *gen) simdDenseForward(i int) bool {
	return simdDense(&g.m.Layers[i]) && simdAct(g.act(i))
}

// simdAct reports whether a SIMD forward kernel takes activation a: it
// fuses ReLU, and sigmoid and tanh follow it.
func simdAct(a string) bool {
	return a == "relu" || a == "linear" || a == "sigmoid" || a == "tanh"
}

// denseForwardSIMD returns the body of a Dense layer's forward pass. The
// kernel (inputs, units) is read as it lies: 8 inputs cover u vectors of
// kernel rows, and a permutation spreads the 8 inputs over the lanes of
// each vector (denseIdx). The products accumulate in one vector per
// position in the period of units over lanes, and a scalar fold after
// ClearAVXUpperBits adds the lanes of each unit to its bias.
func (g *gen) denseForwardSIMD(i int) string {
	l := &g.m.Layers[i]
	n, u := l.In[0], l.Units
	p := densePeriod(u)
	s := &src{}
	// Declared first, so that it is zeroed before any vector instruction
	// dirties the upper halves of the registers.
	s.p("var t [%d]float32", p*8)
	s.p("ip := unsafe.Pointer(&in[0])")
	s.p("kp := unsafe.Pointer(&k[0])")
	for a := range p {
		s.p("var acc%d archsimd.Float32x8", a)
	}
	s.loop(n/8, [][2]string{{"ip", "32"}, {"kp", fmt.Sprint(u * 32)}}, func() {
		s.p("x := %s", load("ip", 0))
		for m := range u {
			s.p("acc%d = x.Permute(archsimd.LoadUint32x8(&denseIdx%d[%d])).MulAdd(%s, acc%d)", m%p, i, m, load("kp", m*32), m%p)
		}
	})
	for a := range p {
		s.p("acc%d.Store((*[8]float32)(t[%d:]))", a, a*8)
	}
	s.p("archsimd.ClearAVXUpperBits()")
	relu := g.act(i) == "relu"
	for o := range u {
		var terms []string
		if l.UseBias {
			terms = append(terms, fmt.Sprintf("b[%d]", o))
		}
		for e := o; e < p*8; e += u {
			terms = append(terms, fmt.Sprintf("t[%d]", e))
		}
		if relu {
			s.p("out[%d] = max(%s, 0)", o, strings.Join(terms, " + "))
		} else {
			s.p("out[%d] = %s", o, strings.Join(terms, " + "))
		}
	}
	return s.String()
}

// denseWeightsSIMD returns the body of a Dense layer's weight gradient:
// the kernel rows of 8 inputs (u vectors) each add the permuted inputs
// times dz tiled over the period of units, which is built with scalar code
// before any vector instruction.
func (g *gen) denseWeightsSIMD(i int) string {
	l := &g.m.Layers[i]
	n, u := l.In[0], l.Units
	p := densePeriod(u)
	s := &src{}
	s.p("var t [%d]float32", p*8)
	s.p("for e := range t { t[e] = dz[e%%%d] }", u)
	if l.UseBias {
		s.p("for o, v := range dz { db[o] += v }")
	}
	s.p("ip := unsafe.Pointer(&in[0])")
	s.p("kp := unsafe.Pointer(&dk[0])")
	for a := range p {
		s.p("d%d := archsimd.LoadFloat32x8((*[8]float32)(t[%d:]))", a, a*8)
	}
	s.loop(n/8, [][2]string{{"ip", "32"}, {"kp", fmt.Sprint(u * 32)}}, func() {
		s.p("x := %s", load("ip", 0))
		for m := range u {
			s.p("x.Permute(archsimd.LoadUint32x8(&denseIdx%d[%d])).MulAdd(d%d, %s).Store((*[8]float32)(%s))", i, m, m%p, load("kp", m*32), addr("kp", m*32))
		}
	})
	return s.String()
}

// maxPoolBackwardSIMD returns the body of a max pooling gradient fused with
// the ReLU gradient before it (see gen.poolReLU), for windows that do not
// overlap. Every cell of a window is written: dz where the cell is the one
// the window took and the window's output is positive, zero elsewhere.
// Cells that no window covers are cleared first, before any vector
// instruction.
func (g *gen) maxPoolBackwardSIMD(i int) string {
	l := &g.m.Layers[i]
	h, w, c := l.In[0], l.In[1], l.In[2]
	oh, ow := l.Out[0], l.Out[1]
	kh, kw, sh, sw := l.Kernel[0], l.Kernel[1], l.Strides[0], l.Strides[1]
	var s src
	if ow*sw < w {
		s.p("for r := range %d { clear(din[(r*%d+%d)*%d:(r+1)*%d]) }", oh*sh, w, ow*sw, c, w*c)
	}
	if oh*sh < h {
		s.p("clear(din[%d:])", oh*sh*w*c)
	}
	s.p("zp, ap, yp, dp := unsafe.Pointer(&dz[0]), unsafe.Pointer(&arg[0]), unsafe.Pointer(&y[0]), unsafe.Pointer(&din[0])")
	s.p("lanes := archsimd.LoadInt32x8(&lanes8)")
	s.p("var zero archsimd.Float32x8")
	s.p("for oy := range %d {", oh)
	s.p("for ox := range %d {", ow)
	s.p("first := (oy*%d + ox*%d) * %d", sh*w, sw, c)
	s.p("o := (oy*%d + ox) * %d", ow, c*4)
	s.p("ip := unsafe.Add(dp, first*4)")
	if c%8 != 0 {
		s.tailMask(c % 8)
	}
	// The last vector of channels is masked when c is not a multiple of 8.
	for cb := 0; cb < (c+7)/8; cb++ {
		mk := cb == c/8
		s.p("{")
		s.p("d := %s.Masked(%s.Greater(zero))", loadM(fmt.Sprintf("unsafe.Add(zp, o+%d)", cb*32), 0, mk), loadM(fmt.Sprintf("unsafe.Add(yp, o+%d)", cb*32), 0, mk))
		if mk {
			s.p("a := archsimd.LoadMaskedInt32x8((*[8]int32)(unsafe.Add(ap, o+%d)), tail)", cb*32)
		} else {
			s.p("a := archsimd.LoadInt32x8((*[8]int32)(unsafe.Add(ap, o+%d)))", cb*32)
		}
		for ky := range kh {
			for kx := range kw {
				off := (ky*w+kx)*c + cb*8
				s.p("%s", storeM(fmt.Sprintf("d.Masked(a.Equal(lanes.Add(archsimd.BroadcastInt32x8(int32(first + %d)))))", off), "ip", off*4, mk))
			}
		}
		s.p("}")
	}
	s.p("}")
	s.p("}")
	return s.String()
}

// denseInputSIMD returns the body of a Dense layer's input gradient,
// din[i] = Σ_u k[i][u] dz[u]: 8 kernel rows at a time, each row's products
// with dz in vectors of 8 units (a masked last vector when the units do
// not fill one), the rows then summed horizontally into one vector of 8
// inputs. With at most denseTreeUnits units, each vector of products is
// summed horizontally on its own and the vectors' sums are added pairwise,
// which is the order of the portable kernel's tree, so both give the same
// bits; with more, the vectors accumulate with multiply-adds first.
func (g *gen) denseInputSIMD(i int) string {
	l := &g.m.Layers[i]
	n, u := l.In[0], l.Units
	q, r := u/8, u%8
	nv := q
	if r != 0 {
		nv++
	}
	tree := u <= denseTreeUnits
	s := &src{}
	s.p("kp := unsafe.Pointer(&k[0])")
	s.p("zb := unsafe.Pointer(&dz[0])")
	s.p("dp := unsafe.Pointer(&din[0])")
	if r != 0 {
		s.tailMask(r)
	}
	// dz stays in registers when it takes few vectors.
	inRegs := nv <= 4
	z := func(v int) string {
		if inRegs {
			return fmt.Sprintf("z%d", v)
		}
		return loadM("zb", v*32, v == q)
	}
	if inRegs {
		for v := range nv {
			s.p("z%d := %s", v, loadM("zb", v*32, v == q))
		}
	}
	s.loop(n/8, [][2]string{{"kp", fmt.Sprint(8 * u * 4)}, {"dp", "32"}}, func() {
		if !tree {
			for j := range 8 {
				for v := range nv {
					k := loadM("kp", j*u*4+v*32, v == q)
					if v == 0 {
						s.p("a%d := %s.Mul(%s)", j, k, z(v))
					} else {
						s.p("a%d = %s.MulAdd(%s, a%d)", j, k, z(v), j)
					}
				}
			}
			s.hsum8("sum")
			s.p("sum.Store((*[8]float32)(dp))")
			return
		}
		var sums []string
		for v := range nv {
			s.p("var b%d archsimd.Float32x8", v)
			s.p("{")
			for j := range 8 {
				s.p("a%d := %s.Mul(%s)", j, loadM("kp", j*u*4+v*32, v == q), z(v))
			}
			s.hsum8(fmt.Sprintf("s%d", v))
			s.p("b%d = s%d", v, v)
			s.p("}")
			sums = append(sums, fmt.Sprintf("b%d", v))
		}
		// The vectors' sums, added pairwise as the portable tree adds
		// its blocks of 8 terms.
		for len(sums) > 1 {
			var next []string
			for t := 0; t+1 < len(sums); t += 2 {
				next = append(next, sums[t]+".Add("+sums[t+1]+")")
			}
			if len(sums)%2 == 1 {
				next = append(next, sums[len(sums)-1])
			}
			sums = next
		}
		s.p("%s.Store((*[8]float32)(dp))", sums[0])
	})
	return s.String()
}

// avgPoolSIMD returns the body of an average pooling kernel without
// padding, 8 channels at a time (a masked last vector when the channels do
// not fill one): the forward pass sums each window in the order of the
// portable kernel and divides by its size, so both give the same bits; the
// backward pass clears din and adds each window's gradient, divided by its
// size, into its cells.
func (g *gen) avgPoolSIMD(i int, forward bool) string {
	l := &g.m.Layers[i]
	w, c := l.In[1], l.In[2]
	oh, ow := l.Out[0], l.Out[1]
	kh, kw, sh, sw := l.Kernel[0], l.Kernel[1], l.Strides[0], l.Strides[1]
	s := &src{}
	if !forward {
		s.p("clear(din[:])")
	}
	if c%8 != 0 {
		s.tailMask(c % 8)
	}
	s.p("n := archsimd.BroadcastFloat32x8(%d)", kh*kw)
	if forward {
		s.p("inp, outp := unsafe.Pointer(&in[0]), unsafe.Pointer(&out[0])")
	} else {
		s.p("inp, outp := unsafe.Pointer(&din[0]), unsafe.Pointer(&dz[0])")
	}
	s.p("for oy := range %d {", oh)
	s.p("for ox := range %d {", ow)
	s.p("ip := unsafe.Add(inp, (oy*%d+ox*%d)*%d)", sh*w, sw, c*4)
	s.p("op := unsafe.Add(outp, (oy*%d+ox)*%d)", ow, c*4)
	for cb := 0; cb < (c+7)/8; cb++ {
		mk := cb == c/8
		s.p("{")
		if forward {
			s.p("var acc archsimd.Float32x8")
			for ky := range kh {
				for kx := range kw {
					s.p("acc = acc.Add(%s)", loadM("ip", ((ky*w+kx)*c+cb*8)*4, mk))
				}
			}
			s.p("%s", storeM("acc.Div(n)", "op", cb*32, mk))
		} else {
			s.p("gv := %s.Div(n)", loadM("op", cb*32, mk))
			for ky := range kh {
				for kx := range kw {
					off := ((ky*w+kx)*c + cb*8) * 4
					s.p("%s", storeM(fmt.Sprintf("%s.Add(gv)", loadM("ip", off, mk)), "ip", off, mk))
				}
			}
		}
		s.p("}")
	}
	s.p("}")
	s.p("}")
	return s.String()
}

// wideDense reports whether a Dense layer whose units are too many for
// simdDense's permutation tables has SIMD kernels vectorized over its
// units instead: the inputs must come in whole vectors.
func wideDense(l *dsl.Layer) bool {
	return l.Kind == dsl.KindDense && l.In[0]%8 == 0 && !simdDense(l)
}

// anyWideDense reports whether some layer is a wideDense one.
func (g *gen) anyWideDense() bool {
	for i := range g.m.Layers {
		if wideDense(&g.m.Layers[i]) {
			return true
		}
	}
	return false
}

// denseForwardWideSIMD returns the body of a wide Dense layer's forward
// pass: blocks of up to 8 vectors of units (a masked last vector when the
// units do not fill one) start from the bias and add, for each input, the
// input broadcast by a permutation times its kernel row, the row being
// the multiply-add's receiver since it is used once.
func (g *gen) denseForwardWideSIMD(i int) string {
	l := &g.m.Layers[i]
	n, u := l.In[0], l.Units
	nvT := (u + 7) / 8
	relu := g.act(i) == "relu"
	s := &src{}
	if u%8 != 0 {
		s.tailMask(u % 8)
	}
	if relu {
		s.p("var zero archsimd.Float32x8")
	}
	s.p("ib, kb, ob := unsafe.Pointer(&in[0]), unsafe.Pointer(&k[0]), unsafe.Pointer(&out[0])")
	if l.UseBias {
		s.p("bb := unsafe.Pointer(&b[0])")
	}
	for v0 := 0; v0 < nvT; v0 += 8 {
		nv := min(8, nvT-v0)
		m := func(v int) bool { return u%8 != 0 && v0+v == nvT-1 }
		s.p("{")
		for v := range nv {
			if l.UseBias {
				s.p("acc%d := %s", v, loadM("bb", (v0+v)*32, m(v)))
			} else {
				s.p("var acc%d archsimd.Float32x8", v)
			}
		}
		s.walk(n/8, []string{"ip", "kp"}, []string{"ib", fmt.Sprintf("unsafe.Add(kb, %d)", v0*32)}, []string{"32", fmt.Sprint(8 * u * 4)}, func() {
			s.p("x := %s", load("ip", 0))
			for ln := range 8 {
				s.p("x%d := x.Permute(archsimd.LoadUint32x8(&bcIdx[%d]))", ln, ln)
				for v := range nv {
					s.p("acc%d = %s.MulAdd(x%d, acc%d)", v, loadM("kp", ln*u*4+v*32, m(v)), ln, v)
				}
			}
		})
		for v := range nv {
			val := fmt.Sprintf("acc%d", v)
			if relu {
				val += ".Max(zero)"
			}
			s.p("%s", storeM(val, "ob", (v0+v)*32, m(v)))
		}
		s.p("}")
	}
	return s.String()
}

// denseWeightsWideSIMD returns the body of a wide Dense layer's weight
// gradient: each kernel row adds its input, broadcast by a permutation,
// times dz, a vector of units at a time (a masked last vector when the
// units do not fill one).
func (g *gen) denseWeightsWideSIMD(i int) string {
	l := &g.m.Layers[i]
	n, u := l.In[0], l.Units
	nvT := (u + 7) / 8
	s := &src{}
	if u%8 != 0 {
		s.tailMask(u % 8)
	}
	m := func(v int) bool { return u%8 != 0 && v == nvT-1 }
	s.p("zb := unsafe.Pointer(&dz[0])")
	if l.UseBias {
		s.p("gb := unsafe.Pointer(&db[0])")
		for v := range nvT {
			s.p("%s", storeM(fmt.Sprintf("%s.Add(%s)", loadM("gb", v*32, m(v)), loadM("zb", v*32, m(v))), "gb", v*32, m(v)))
		}
	}
	s.walk(n/8, []string{"ip", "kp"}, []string{"unsafe.Pointer(&in[0])", "unsafe.Pointer(&dk[0])"}, []string{"32", fmt.Sprint(8 * u * 4)}, func() {
		s.p("x := %s", load("ip", 0))
		for ln := range 8 {
			s.p("x%d := x.Permute(archsimd.LoadUint32x8(&bcIdx[%d]))", ln, ln)
			for v := range nvT {
				off := ln*u*4 + v*32
				s.p("%s", storeM(fmt.Sprintf("x%d.MulAdd(%s, %s)", ln, loadM("zb", v*32, m(v)), loadM("kp", off, m(v))), "kp", off, m(v)))
			}
		}
	})
	return s.String()
}

// simdTestFile emits TestSIMDMatchesPortable for the SIMD kernels that take
// their sums in the portable kernels' order, or nil when there are none:
// pooling, and the input gradient of Dense layers with few units.
func (g *gen) simdTestFile() *jen.File {
	var body []jen.Code
	seed := uint64(1)
	arrays := func(names []string, sizes []int, typ string) {
		var decl []string
		for k, n := range names {
			decl = append(decl, fmt.Sprintf("%s := new([%d]%s)", n, sizes[k], typ))
		}
		body = append(body, raw("%s", strings.Join(decl, "\n")))
	}
	fill := func(names ...string) {
		for _, n := range names {
			body = append(body, jen.Qual(rtestPath, "Fill").Call(jen.Id(n).Index(jen.Op(":")), jen.Lit(int(seed))))
			seed++
		}
	}
	same := func(name, got, want string) {
		body = append(body, jen.Qual(rtestPath, "SameBits").Call(jen.Id("t"), jen.Lit(name), jen.Id(got).Index(jen.Op(":")), jen.Id(want).Index(jen.Op(":"))))
	}
	for _, d := range g.dispatch {
		l := &g.m.Layers[d.layer]
		in, out := 0, 0
		if len(l.In) > 0 {
			in, out = l.In.Size(), l.Out.Size()
		}
		var block []jen.Code
		start := len(body)
		switch {
		case l.Kind == dsl.KindAveragePooling2D && simdPool(l) && strings.HasPrefix(d.name, "forward"):
			arrays([]string{"x", "got", "want"}, []int{in, out, out}, "float32")
			fill("x")
			body = append(body, raw("%s(x, got)", d.name), raw("%sGeneric(x, want)", d.name))
			same(d.name, "got", "want")
		case l.Kind == dsl.KindAveragePooling2D && simdPool(l):
			arrays([]string{"dz", "got", "want"}, []int{out, in, in}, "float32")
			fill("dz")
			body = append(body, raw("%s(dz, got)", d.name), raw("%sGeneric(dz, want)", d.name))
			same(d.name, "got", "want")
		case l.Kind == dsl.KindMaxPooling2D && simdPool(l) && strings.HasPrefix(d.name, "forward"):
			arrays([]string{"x", "got", "want"}, []int{in, out, out}, "float32")
			arrays([]string{"ga", "wa"}, []int{out, out}, "int32")
			fill("x")
			body = append(body, raw("%s(x, got, ga)", d.name), raw("%sGeneric(x, want, wa)", d.name))
			same(d.name, "got", "want")
			body = append(body, jen.Qual(rtestPath, "SameInts").Call(jen.Id("t"), jen.Lit(d.name), jen.Id("ga").Index(jen.Op(":")), jen.Id("wa").Index(jen.Op(":"))))
		case l.Kind == dsl.KindMaxPooling2D && simdPool(l) && strings.HasPrefix(d.name, "infer"):
			arrays([]string{"x", "got", "want"}, []int{in, out, out}, "float32")
			fill("x")
			body = append(body, raw("%s(x, got)", d.name), raw("%sGeneric(x, want)", d.name))
			same(d.name, "got", "want")
		case l.Kind == dsl.KindDense && strings.HasSuffix(d.name, "Input") && l.In[0]%8 == 0 && l.Units <= denseTreeUnits:
			n, u := l.In[0], l.Units
			arrays([]string{"k", "dz", "got", "want"}, []int{n * u, u, n, n}, "float32")
			fill("k", "dz")
			body = append(body, raw("%s(k, dz, got)", d.name), raw("%sGeneric(k, dz, want)", d.name))
			same(d.name, "got", "want")
		default:
			continue
		}
		block = append(block, body[start:]...)
		body = append(body[:start], jen.Comment(g.layerComment(l)), jen.Block(block...))
	}
	if len(body) == 0 {
		return nil
	}
	f := jen.NewFile(g.m.Name)
	f.HeaderComment(g.header())
	f.HeaderComment("//go:build goexperiment.simd && amd64")
	f.ImportName(rtestPath, "rtest")
	f.Comment("TestSIMDMatchesPortable checks that the SIMD kernels that take their sums in\n" +
		"the portable kernels' order give the same bits as those, on random inputs.")
	f.Func().Id("TestSIMDMatchesPortable").Params(jen.Id("t").Op("*").Qual("testing", "T")).Block(body...)
	return f
}

// activationFunc names the runtime's vectorized sigmoid or tanh.
func activationFunc(act string) string {
	if act == "sigmoid" {
		return "Sigmoid"
	}
	return "Tanh"
}
