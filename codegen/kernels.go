package codegen

import (
	"fmt"
	"strings"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/runtime"
	"github.com/dave/jennifer/jen"
)

// maxUnrolledTaps is the largest kernel window whose taps are unrolled;
// larger windows get constant-bound loops.
const maxUnrolledTaps = 25

// raw emits one line of Go. Kernel bodies are index arithmetic with
// constants folded in by the generator, which reads better as formatted
// source than as a tree of jennifer calls; gofmt still checks and formats
// every line when the file is rendered.
func raw(format string, args ...any) jen.Code { return jen.Id(fmt.Sprintf(format, args...)) }

// block groups lines into a braced block.
func block(lines ...jen.Code) jen.Code { return jen.Block(lines...) }

// kernels emits the functions of layer i.
func (g *gen) kernels(f *jen.File, i int) {
	l := &g.m.Layers[i]
	switch l.Kind {
	case dsl.KindConv2D:
		g.convKernels(f, i)
	case dsl.KindDense:
		g.denseKernels(f, i)
	case dsl.KindMaxPooling2D, dsl.KindAveragePooling2D:
		g.poolKernels(f, i)
	case dsl.KindPreprocessInput:
		pp, _ := runtime.PreprocessingOf(l.Mode)
		n := l.Out.Size()
		f.Comment(g.layerComment(l))
		var fwd, bwd []jen.Code
		for c := range 3 {
			fwd = append(fwd, raw("out[j+%d] = (in[j+%d]/%s - %s) / %s", c, pp.Perm[c], f32(float64(pp.Div)), f32(float64(pp.Mean[c])), f32(float64(pp.Std[c]))))
			bwd = append(bwd, raw("din[j+%d] = dz[j+%d] / %s / %s", pp.Perm[c], c, f32(float64(pp.Std[c])), f32(float64(pp.Div))))
		}
		f.Func().Id(fmt.Sprintf("forward%d", i)).Params(jen.Id("in"), jen.Id("out").Add(arr(n))).Block(
			jen.For(jen.Id("j").Op(":=").Lit(0), jen.Id("j").Op("<").Lit(n), jen.Id("j").Op("+=").Lit(3)).Block(fwd...),
		)
		f.Func().Id(fmt.Sprintf("backward%d", i)).Params(jen.Id("dz"), jen.Id("din").Add(arr(n))).Block(
			jen.For(jen.Id("j").Op(":=").Lit(0), jen.Id("j").Op("<").Lit(n), jen.Id("j").Op("+=").Lit(3)).Block(bwd...),
		)
	case dsl.KindRescaling:
		n := l.Out.Size()
		f.Comment(g.layerComment(l))
		f.Func().Id(fmt.Sprintf("forward%d", i)).Params(jen.Id("in"), jen.Id("out").Add(arr(n))).Block(
			raw("for j, v := range in { out[j] = v*%s + %s }", f32(l.Scale), f32(l.Offset)),
		)
		f.Func().Id(fmt.Sprintf("backward%d", i)).Params(jen.Id("dz"), jen.Id("din").Add(arr(n))).Block(
			raw("for j, v := range dz { din[j] = v * %s }", f32(l.Scale)),
		)
	}
}

// f32 formats a constant as a float32 literal.
func f32(v float64) string {
	s := fmt.Sprint(float32(v))
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return "float32(" + s + ")"
}

// tap is one kernel position with its offsets folded to constants.
type tap struct {
	ky, kx int
	off    int // offset of the tap's first input element from the window's
	wOff   int // offset of the tap's (ci, co) block in the kernel
}

func convTaps(l *dsl.Layer, wp int) []tap {
	ci, co := l.In[2], l.Filters
	var ts []tap
	for ky := 0; ky < l.Kernel[0]; ky++ {
		for kx := 0; kx < l.Kernel[1]; kx++ {
			ts = append(ts, tap{ky, kx, (ky*wp + kx) * ci, (ky*l.Kernel[1] + kx) * ci * co})
		}
	}
	return ts
}

// forTaps emits body once per tap when the window is small enough to
// unroll, and a constant-bound loop over the window otherwise. body
// receives the offset expressions of the tap.
func forTaps(l *dsl.Layer, wp int, body func(off, wOff string) []jen.Code) []jen.Code {
	ci, co := l.In[2], l.Filters
	taps := convTaps(l, wp)
	if len(taps) <= maxUnrolledTaps {
		var out []jen.Code
		for _, t := range taps {
			out = append(out, raw("// tap (%d, %d)", t.ky, t.kx), block(body(fmt.Sprintf("base+%d", t.off), fmt.Sprint(t.wOff))...))
		}
		return out
	}
	inner := body("base+ky*"+fmt.Sprint(wp*ci)+"+kx*"+fmt.Sprint(ci), fmt.Sprintf("(ky*%d+kx)*%d", l.Kernel[1], ci*co))
	return []jen.Code{
		jen.For(raw("ky := range %d", l.Kernel[0])).Block(
			jen.For(raw("kx := range %d", l.Kernel[1])).Block(inner...),
		),
	}
}

func (g *gen) convKernels(f *jen.File, i int) {
	l := &g.m.Layers[i]
	h, w, ci := l.In[0], l.In[1], l.In[2]
	oh, ow, co := l.Out[0], l.Out[1], l.Out[2]
	hp, wp := h+l.Pad[0]+l.Pad[1], w+l.Pad[2]+l.Pad[3]
	sh, sw := l.Strides[0], l.Strides[1]
	kn := l.Kernel[0] * l.Kernel[1] * ci * co
	act := g.act(i)
	comment := g.layerComment(l)
	// Only the live outputs are computed, and only their gradients are
	// read (see gen.live).
	lh, lw := g.live(i)

	if hasPad(l) {
		f.Comment(fmt.Sprintf("pad%d copies the input of %s into a zero border: %d rows on top,\n"+
			"%d at the bottom, %d columns on the left and %d on the right, as TensorFlow's\n\"same\" padding does.", i, l.Name, l.Pad[0], l.Pad[1], l.Pad[2], l.Pad[3]))
		f.Func().Id(fmt.Sprintf("pad%d", i)).Params(jen.Id("in").Add(arr(h*w*ci)), jen.Id("out").Add(arr(hp*wp*ci))).Block(
			jen.For(raw("y := range %d", h)).Block(
				raw("copy(out[(y+%d)*%d+%d:(y+%d)*%d+%d], in[y*%d:(y+1)*%d])", l.Pad[0], wp*ci, l.Pad[2]*ci, l.Pad[0], wp*ci, l.Pad[2]*ci+w*ci, w*ci, w*ci),
			),
		)
		f.Comment(fmt.Sprintf("unpad%d crops the gradient of the padded input of %s.", i, l.Name))
		f.Func().Id(fmt.Sprintf("unpad%d", i)).Params(jen.Id("dp").Add(arr(hp*wp*ci)), jen.Id("din").Add(arr(h*w*ci))).Block(
			jen.For(raw("y := range %d", h)).Block(
				raw("copy(din[y*%d:(y+1)*%d], dp[(y+%d)*%d+%d:])", w*ci, w*ci, l.Pad[0], wp*ci, l.Pad[2]*ci),
			),
		)
	}

	// Forward: bias, taps, activation fused in the store.
	f.Comment(comment)
	f.Comment(fmt.Sprintf("forward%d computes the convolution with its bias and %s fused.", i, act))
	params := []jen.Code{jen.Id("in").Add(arr(hp * wp * ci)), jen.Id("k").Add(arr(kn))}
	if l.UseBias {
		params = append(params, jen.Id("b").Add(arr(co)))
	}
	params = append(params, jen.Id("out").Add(arr(oh*ow*co)))
	if g.parTiled(i) {
		f.Comment(fmt.Sprintf("forward%dInfer is forward%d in inference: the SIMD build runs the tiled\n"+
			"kernel instead of Winograd, as its work splits across cores with the same\n"+
			"result on any number of them.", i, i))
		f.Func().Id(g.generic(fmt.Sprintf("forward%dInfer", i), params)).Params(params...).Block(
			jen.Id(fmt.Sprintf("forward%dGeneric", i)).CallFunc(func(c *jen.Group) {
				for _, p := range params {
					c.Id(paramName(p))
				}
			}),
		)
	}
	if g.tiled(i) {
		// The portable twin of a tiled layer runs the same plan.
		var bias jen.Code = jen.Nil()
		if l.UseBias {
			bias = raw("b[:]")
		}
		body := append([]jen.Code{
			jen.Qual(RuntimePath, "ConvTiledPortable").Call(jen.Op("&").Id(fmt.Sprintf("tilePlan%d", i)), raw("in[:]"), raw("k[:]"), bias, raw("out[:]")),
		}, g.postActivation(i, "the plan's loop nest")...)
		f.Func().Id(g.generic(fmt.Sprintf("forward%d", i), params)).Params(params...).Block(body...)
	} else {
		f.Func().Id(g.generic(fmt.Sprintf("forward%d", i), params)).Params(params...).Block(
			jen.For(raw("oy := range %d", lh)).Block(
				jen.For(raw("ox := range %d", lw)).BlockFunc(func(b *jen.Group) {
					b.Add(raw("base := oy*%d + ox*%d", sh*wp*ci, sw*ci))
					if l.UseBias {
						b.Add(raw("acc := *b"))
					} else {
						b.Add(raw("var acc [%d]float32", co))
					}
					for _, c := range forTaps(l, wp, func(off, wOff string) []jen.Code {
						return []jen.Code{
							raw("p := (*[%d]float32)(in[%s:])", ci, off),
							raw("wt := (*[%d]float32)(k[%s:])", ci*co, wOff),
							jen.For(raw("c, v := range p")).Block(
								raw("if v == 0 { continue }"),
								raw("r := (*[%d]float32)(wt[c*%d:])", co, co),
								raw("for o := range %d { acc[o] += v * r[o] }", co),
							),
						}
					}) {
						b.Add(c)
					}
					b.Add(raw("o := (*[%d]float32)(out[(oy*%d+ox)*%d:])", co, ow, co))
					b.Add(storeActivated(act, "acc", "o"))
				}),
			),
		)
	}

	if g.pools[i] != nil {
		next := &g.m.Layers[i+1]
		pp := append(append([]jen.Code(nil), params[:len(params)-1]...),
			jen.Id("tmp").Add(arr(oh*ow*co)), jen.Id("out").Add(arr(next.Out.Size())))
		args := func(c *jen.Group) {
			for _, p := range params[:len(params)-1] {
				c.Id(paramName(p))
			}
			c.Id("tmp")
		}
		f.Comment(fmt.Sprintf("forward%dPool is forward%d followed by %s's max-pool, in inference:\n"+
			"the SIMD build computes both at once (tilePoolPlan%d), without writing the\n"+
			"convolution's whole output; this version goes through tmp.", i, i, next.Name, i))
		f.Func().Id(g.generic(fmt.Sprintf("forward%dPool", i), pp)).Params(pp...).Block(
			jen.Id(fmt.Sprintf("forward%dGeneric", i)).CallFunc(args),
			jen.Id(fmt.Sprintf("infer%dGeneric", i+1)).Call(jen.Id("tmp"), jen.Id("out")),
		)
	}

	if act != "linear" {
		f.Func().Id(g.activationName(i, act, oh*ow*co)).Params(jen.Id("y"), jen.Id("d").Add(arr(oh*ow*co))).Block(
			activationBackward(act, oh*ow, co)...,
		)
	}

	if l.Trainable {
		f.Comment(fmt.Sprintf("backward%dWeights adds the gradients of the kernel and bias of %s.", i, l.Name))
		params := []jen.Code{jen.Id("in").Add(arr(hp * wp * ci)), jen.Id("dz").Add(arr(oh * ow * co)), jen.Id("dk").Add(arr(kn))}
		if l.UseBias {
			params = append(params, jen.Id("db").Add(arr(co)))
		}
		f.Func().Id(g.generic(fmt.Sprintf("backward%dWeights", i), params)).Params(params...).Block(
			jen.For(raw("oy := range %d", lh)).Block(
				jen.For(raw("ox := range %d", lw)).BlockFunc(func(b *jen.Group) {
					b.Add(raw("g := (*[%d]float32)(dz[(oy*%d+ox)*%d:])", co, ow, co))
					if l.UseBias {
						b.Add(raw("for o, v := range g { db[o] += v }"))
					}
					b.Add(raw("base := oy*%d + ox*%d", sh*wp*ci, sw*ci))
					for _, c := range forTaps(l, wp, func(off, wOff string) []jen.Code {
						return []jen.Code{
							raw("p := (*[%d]float32)(in[%s:])", ci, off),
							raw("wt := (*[%d]float32)(dk[%s:])", ci*co, wOff),
							jen.For(raw("c, v := range p")).Block(
								raw("if v == 0 { continue }"),
								raw("r := (*[%d]float32)(wt[c*%d:])", co, co),
								raw("for o, gv := range g { r[o] += v * gv }"),
							),
						}
					}) {
						b.Add(c)
					}
				}),
			),
		)
	}

	if g.needDIn[i] {
		f.Comment(fmt.Sprintf("backward%dInput computes the gradient of the (padded) input of %s.", i, l.Name))
		params := []jen.Code{jen.Id("k").Add(arr(kn)), jen.Id("dz").Add(arr(oh * ow * co)), jen.Id("din").Add(arr(hp * wp * ci))}
		f.Func().Id(g.generic(fmt.Sprintf("backward%dInput", i), params)).Params(params...).Block(
			raw("clear(din[:])"),
			jen.For(raw("oy := range %d", lh)).Block(
				jen.For(raw("ox := range %d", lw)).BlockFunc(func(b *jen.Group) {
					b.Add(raw("g := (*[%d]float32)(dz[(oy*%d+ox)*%d:])", co, ow, co))
					b.Add(raw("base := oy*%d + ox*%d", sh*wp*ci, sw*ci))
					for _, c := range forTaps(l, wp, func(off, wOff string) []jen.Code {
						return []jen.Code{
							raw("q := (*[%d]float32)(din[%s:])", ci, off),
							raw("wt := (*[%d]float32)(k[%s:])", ci*co, wOff),
							jen.For(raw("c := range %d", ci)).Block(
								raw("r := (*[%d]float32)(wt[c*%d:])", co, co),
								raw("var s float32"),
								raw("for o, gv := range g { s += r[o] * gv }"),
								raw("q[c] += s"),
							),
						}
					}) {
						b.Add(c)
					}
				}),
			),
		)
	}
}

// storeActivated stores the accumulator acc into dst through the
// activation.
func storeActivated(act, acc, dst string) jen.Code {
	switch act {
	case "relu":
		return raw("for j, s := range %s { %s[j] = max(s, 0) }", acc, dst)
	case "sigmoid":
		return raw("runtime.Sigmoid(%s[:], %s[:])", dst, acc)
	case "tanh":
		return raw("runtime.Tanh(%s[:], %s[:])", dst, acc)
	case "softmax":
		return raw("runtime.Softmax(%s[:], %s[:])", acc, dst)
	default:
		return raw("*%s = %s", dst, acc)
	}
}

// activationBackward multiplies the gradient d by the derivative of the
// activation, computed from its output y, for n vectors of m elements.
func activationBackward(act string, n, m int) []jen.Code {
	switch act {
	case "relu":
		return []jen.Code{raw("for j, v := range y { if v <= 0 { d[j] = 0 } }")}
	case "sigmoid":
		return []jen.Code{raw("for j, v := range y { d[j] *= v * (1 - v) }")}
	case "tanh":
		return []jen.Code{raw("for j, v := range y { d[j] *= 1 - v*v }")}
	case "softmax":
		return []jen.Code{jen.For(raw("p := range %d", n)).Block(
			raw("yv := (*[%d]float32)(y[p*%d:])", m, m),
			raw("dv := (*[%d]float32)(d[p*%d:])", m, m),
			raw("var s float32"),
			raw("for j, v := range yv { s += v * dv[j] }"),
			raw("for j, v := range yv { dv[j] = v * (dv[j] - s) }"),
		)}
	}
	return nil
}

// denseTreeUnits is the most units of a Dense layer whose input gradient
// keeps dz in registers and sums each dot product as a tree.
const denseTreeUnits = 16

func (g *gen) denseKernels(f *jen.File, i int) {
	l := &g.m.Layers[i]
	n, u := l.In[0], l.Units
	act := g.act(i)
	f.Comment(g.layerComment(l))
	f.Comment(fmt.Sprintf("forward%d computes the dense layer with its bias and %s fused.", i, act))
	params := []jen.Code{jen.Id("in").Add(arr(n)), jen.Id("k").Add(arr(n * u))}
	if l.UseBias {
		params = append(params, jen.Id("b").Add(arr(u)))
	}
	params = append(params, jen.Id("out").Add(arr(u)))
	f.Func().Id(g.generic(fmt.Sprintf("forward%d", i), params)).Params(params...).BlockFunc(func(b *jen.Group) {
		if l.UseBias {
			b.Add(raw("acc := *b"))
		} else {
			b.Add(raw("var acc [%d]float32", u))
		}
		b.For(raw("i, v := range in")).Block(
			raw("if v == 0 { continue }"),
			raw("r := (*[%d]float32)(k[i*%d:])", u, u),
			raw("for o := range %d { acc[o] += v * r[o] }", u),
		)
		b.Add(storeActivated(act, "acc", "out"))
	})
	if act != "linear" {
		f.Func().Id(g.activationName(i, act, u)).Params(jen.Id("y"), jen.Id("d").Add(arr(u))).Block(
			activationBackward(act, 1, u)...,
		)
	}
	if l.Trainable {
		params := []jen.Code{jen.Id("in").Add(arr(n)), jen.Id("dz").Add(arr(u)), jen.Id("dk").Add(arr(n * u))}
		if l.UseBias {
			params = append(params, jen.Id("db").Add(arr(u)))
		}
		f.Func().Id(g.generic(fmt.Sprintf("backward%dWeights", i), params)).Params(params...).BlockFunc(func(b *jen.Group) {
			if l.UseBias {
				b.Add(raw("for o, v := range dz { db[o] += v }"))
			}
			b.For(raw("i, v := range in")).Block(
				raw("if v == 0 { continue }"),
				raw("r := (*[%d]float32)(dk[i*%d:])", u, u),
				raw("for o, gv := range dz { r[o] += v * gv }"),
			)
		})
	}
	if g.needDIn[i] {
		params := []jen.Code{jen.Id("k").Add(arr(n * u)), jen.Id("dz").Add(arr(u)), jen.Id("din").Add(arr(n))}
		if u > denseTreeUnits {
			f.Func().Id(g.generic(fmt.Sprintf("backward%dInput", i), params)).Params(params...).Block(
				jen.For(raw("i := range %d", n)).Block(
					raw("r := (*[%d]float32)(k[i*%d:])", u, u),
					raw("var s float32"),
					raw("for o, gv := range dz { s += r[o] * gv }"),
					raw("din[i] = s"),
				),
			)
			return
		}
		// With few units, dz stays in registers and each dot product is
		// summed as a tree: a chain of u dependent additions would bound
		// the loop by their latency.
		var terms []string
		for o := range u {
			terms = append(terms, fmt.Sprintf("r[%d]*d%d", o, o))
		}
		for len(terms) > 1 {
			var next []string
			for t := 0; t+1 < len(terms); t += 2 {
				next = append(next, "("+terms[t]+" + "+terms[t+1]+")")
			}
			if len(terms)%2 == 1 {
				next = append(next, terms[len(terms)-1])
			}
			terms = next
		}
		sum := strings.TrimSuffix(strings.TrimPrefix(terms[0], "("), ")")
		if u == 1 {
			sum = terms[0]
		}
		f.Func().Id(g.generic(fmt.Sprintf("backward%dInput", i), params)).Params(params...).BlockFunc(func(b *jen.Group) {
			for o := range u {
				b.Add(raw("d%d := dz[%d]", o, o))
			}
			b.For(raw("i := range %d", n)).Block(
				raw("r := (*[%d]float32)(k[i*%d:])", u, u),
				raw("din[i] = %s", sum),
			)
		})
	}
}

func (g *gen) poolKernels(f *jen.File, i int) {
	l := &g.m.Layers[i]
	h, w, c := l.In[0], l.In[1], l.In[2]
	oh, ow := l.Out[0], l.Out[1]
	kh, kw := l.Kernel[0], l.Kernel[1]
	sh, sw := l.Strides[0], l.Strides[1]
	pt, pl := l.Pad[0], l.Pad[2]
	same := hasPad(l)
	// window emits the loops over the window's valid cells around body.
	window := func(body ...jen.Code) jen.Code {
		var yl, xl []jen.Code
		if same {
			yl = append(yl, raw("iy := oy*%d + ky - %d", sh, pt), raw("if iy < 0 || iy >= %d { continue }", h))
			xl = append(xl, raw("ix := ox*%d + kx - %d", sw, pl), raw("if ix < 0 || ix >= %d { continue }", w))
		} else {
			yl = append(yl, raw("iy := oy*%d + ky", sh))
			xl = append(xl, raw("ix := ox*%d + kx", sw))
		}
		xl = append(xl, raw("p := (iy*%d + ix) * %d", w, c))
		xl = append(xl, body...)
		yl = append(yl, jen.For(raw("kx := range %d", kw)).Block(xl...))
		return jen.For(raw("ky := range %d", kh)).Block(yl...)
	}
	f.Comment(g.layerComment(l))
	if l.Kind == dsl.KindMaxPooling2D {
		f.Comment(fmt.Sprintf("forward%d keeps the first maximum of each window and its index.", i))
		fparams := []jen.Code{jen.Id("in").Add(arr(h * w * c)), jen.Id("out").Add(arr(oh * ow * c)), jen.Id("arg").Op("*").Index(jen.Lit(oh * ow * c)).Int32()}
		f.Func().Id(g.generic(fmt.Sprintf("forward%d", i), fparams)).Params(fparams...).Block(
			jen.For(raw("oy := range %d", oh)).Block(
				jen.For(raw("ox := range %d", ow)).Block(
					raw("o := (oy*%d + ox) * %d", ow, c),
					raw("ov := (*[%d]float32)(out[o:])", c),
					raw("oa := (*[%d]int32)(arg[o:])", c),
					raw("for j := range %d { ov[j] = negInf; oa[j] = -1 }", c),
					window(
						raw("iv := (*[%d]float32)(in[p:])", c),
						raw("for j, v := range iv { if oa[j] < 0 || v > ov[j] { ov[j] = v; oa[j] = int32(p + j) } }"),
					),
				),
			),
		)
		// Inference needs no indices, so it takes a branch-free maximum.
		f.Comment(fmt.Sprintf("infer%d takes the maximum of each window, for inference.", i))
		iparams := []jen.Code{jen.Id("in").Add(arr(h * w * c)), jen.Id("out").Add(arr(oh * ow * c))}
		f.Func().Id(g.generic(fmt.Sprintf("infer%d", i), iparams)).Params(iparams...).Block(
			jen.For(raw("oy := range %d", oh)).Block(
				jen.For(raw("ox := range %d", ow)).Block(
					raw("var acc [%d]float32", c),
					raw("for j := range acc { acc[j] = negInf }"),
					window(
						raw("iv := (*[%d]float32)(in[p:])", c),
						raw("for j, v := range iv { if v > acc[j] { acc[j] = v } }"),
					),
					raw("*(*[%d]float32)(out[(oy*%d+ox)*%d:]) = acc", c, ow, c),
				),
			),
		)
		if g.poolReLU(i) {
			f.Comment(fmt.Sprintf("backward%d passes the gradient of each window to the cell it took, where\n"+
				"the window's output y is positive: it applies the ReLU gradient of %s.", i, g.m.Layers[i-1].Name))
			params := []jen.Code{jen.Id("dz").Add(arr(oh * ow * c)), jen.Id("arg").Op("*").Index(jen.Lit(oh * ow * c)).Int32(), jen.Id("y").Add(arr(oh * ow * c)), jen.Id("din").Add(arr(h * w * c))}
			f.Func().Id(g.generic(fmt.Sprintf("backward%d", i), params)).Params(params...).Block(
				raw("clear(din[:])"),
				raw("for j, a := range arg { if y[j] > 0 { din[a] += dz[j] } }"),
			)
			return
		}
		f.Func().Id(fmt.Sprintf("backward%d", i)).Params(jen.Id("dz").Add(arr(oh*ow*c)), jen.Id("arg").Op("*").Index(jen.Lit(oh*ow*c)).Int32(), jen.Id("din").Add(arr(h*w*c))).Block(
			raw("clear(din[:])"),
			raw("for j, a := range arg { din[a] += dz[j] }"),
		)
		return
	}
	count := func() []jen.Code {
		if !same || l.CountIncludePad {
			return []jen.Code{raw("const n = %d", kh*kw)}
		}
		return []jen.Code{
			raw("y0, y1 := max(oy*%d-%d, 0), min(oy*%d-%d+%d, %d)", sh, pt, sh, pt, kh, h),
			raw("x0, x1 := max(ox*%d-%d, 0), min(ox*%d-%d+%d, %d)", sw, pl, sw, pl, kw, w),
			raw("n := float32((y1 - y0) * (x1 - x0))"),
		}
	}
	if l.CountIncludePad && same {
		f.Comment(fmt.Sprintf("forward%d averages each window over all its %d cells, padding included (count_include_pad=True).", i, kh*kw))
	} else {
		f.Comment(fmt.Sprintf("forward%d averages each window over its cells inside the input.", i))
	}
	fparams := []jen.Code{jen.Id("in").Add(arr(h * w * c)), jen.Id("out").Add(arr(oh * ow * c))}
	f.Func().Id(g.generic(fmt.Sprintf("forward%d", i), fparams)).Params(fparams...).Block(
		jen.For(raw("oy := range %d", oh)).Block(
			jen.For(raw("ox := range %d", ow)).BlockFunc(func(b *jen.Group) {
				for _, s := range count() {
					b.Add(s)
				}
				b.Add(raw("var acc [%d]float32", c))
				b.Add(window(
					raw("iv := (*[%d]float32)(in[p:])", c),
					raw("for j, v := range iv { acc[j] += v }"),
				))
				b.Add(raw("ov := (*[%d]float32)(out[(oy*%d+ox)*%d:])", c, ow, c))
				b.Add(raw("for j, s := range acc { ov[j] = s / n }"))
			}),
		),
	)
	f.Comment(fmt.Sprintf("backward%d spreads the gradient of each window evenly over its cells inside the input.", i))
	bparams := []jen.Code{jen.Id("dz").Add(arr(oh * ow * c)), jen.Id("din").Add(arr(h * w * c))}
	f.Func().Id(g.generic(fmt.Sprintf("backward%d", i), bparams)).Params(bparams...).Block(
		raw("clear(din[:])"),
		jen.For(raw("oy := range %d", oh)).Block(
			jen.For(raw("ox := range %d", ow)).BlockFunc(func(b *jen.Group) {
				for _, s := range count() {
					b.Add(s)
				}
				b.Add(raw("gv := (*[%d]float32)(dz[(oy*%d+ox)*%d:])", c, ow, c))
				b.Add(window(
					raw("dv := (*[%d]float32)(din[p:])", c),
					raw("for j, v := range gv { dv[j] += v / n }"),
				))
			}),
		),
	)
}

// dispatched is a kernel with a portable version (<name>Generic, in the
// model's main file) and a build-tag-selected entry point <name>.
type dispatched struct {
	name   string
	layer  int
	params []jen.Code
}

// generic records a dispatched kernel and returns the name of its portable
// version.
func (g *gen) generic(name string, params []jen.Code) string {
	g.dispatch = append(g.dispatch, dispatched{name: name, layer: g.cur, params: params})
	return name + "Generic"
}

// activationName returns the name of the portable activation-gradient
// kernel of layer i. ReLU's over whole vectors is dispatched, so that the
// SIMD build masks eight lanes at a time instead of branching on every
// element, which mispredicts half the time.
func (g *gen) activationName(i int, act string, n int) string {
	name := fmt.Sprintf("backward%dActivation", i)
	if act != "relu" || n%8 != 0 {
		return name
	}
	return g.generic(name, []jen.Code{jen.Id("y"), jen.Id("d").Add(arr(n))})
}
