package codegen

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/runtime"
	"github.com/dave/jennifer/jen"
)

// Cache is the per-core data cache of the machine a build plans its
// kernels for, in bytes.
type Cache struct {
	L1, L2 int
}

// DefaultCache is what a build plans for when it is not told or cannot
// read the machine's caches: Zen 3's 32 KiB L1 and 512 KiB L2, the
// smallest of the machines convc is measured on. The committed packages in
// generated/ are planned for it, so that they do not depend on the machine
// that regenerated them.
var DefaultCache = Cache{L1: 32 << 10, L2: 512 << 10}

// String formats the cache as convc build's -cache flag takes it.
func (c Cache) String() string { return fmt.Sprintf("%dK,%dK", c.L1>>10, c.L2>>10) }

// ParseCache parses the -cache flag: "L1,L2" in bytes with an optional K
// or M suffix, "default" for DefaultCache, or "host" for DetectCache.
func ParseCache(s string) (Cache, error) {
	switch s {
	case "default":
		return DefaultCache, nil
	case "host", "":
		return DetectCache(), nil
	}
	a, b, ok := strings.Cut(s, ",")
	if !ok {
		return Cache{}, fmt.Errorf("-cache %q: want L1,L2 such as 32K,512K, or host or default", s)
	}
	l1, err1 := parseBytes(a)
	l2, err2 := parseBytes(b)
	if err1 != nil || err2 != nil || l1 < 4<<10 || l2 < l1 || l2 > 1<<30 {
		return Cache{}, fmt.Errorf("-cache %q: want L1,L2 such as 32K,512K, with 4K <= L1 <= L2 <= 1G", s)
	}
	return Cache{L1: l1, L2: l2}, nil
}

func parseBytes(s string) (int, error) {
	s = strings.TrimSpace(strings.ToUpper(s))
	mul := 1
	switch {
	case strings.HasSuffix(s, "K"):
		mul, s = 1<<10, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mul, s = 1<<20, strings.TrimSuffix(s, "M")
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mul, nil
}

// DetectCache reads the data cache sizes of cpu0 from Linux's sysfs
// (/sys/devices/system/cpu/cpu0/cache/index*/); where a virtual machine
// shows no sysfs cache entries, from getconf (glibc reads them with CPUID),
// then from the "cache size" line of /proc/cpuinfo (the L2 on AMD's CPUs).
// It falls back to DefaultCache for what it cannot read.
func DetectCache() Cache {
	c := Cache{}
	for i := range 8 {
		dir := fmt.Sprintf("/sys/devices/system/cpu/cpu0/cache/index%d/", i)
		level, err1 := os.ReadFile(dir + "level")
		typ, err2 := os.ReadFile(dir + "type")
		size, err3 := os.ReadFile(dir + "size")
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		n, err := parseBytes(string(size))
		if err != nil || strings.TrimSpace(string(typ)) == "Instruction" {
			continue
		}
		switch strings.TrimSpace(string(level)) {
		case "1":
			c.L1 = n
		case "2":
			c.L2 = n
		}
	}
	getconf := func(name string) int {
		out, err := exec.Command("getconf", name).Output()
		if err != nil {
			return 0
		}
		n, err := strconv.Atoi(strings.TrimSpace(string(out)))
		if err != nil {
			return 0
		}
		return n
	}
	if c.L1 == 0 {
		c.L1 = getconf("LEVEL1_DCACHE_SIZE")
	}
	if c.L2 == 0 {
		c.L2 = getconf("LEVEL2_CACHE_SIZE")
	}
	if c.L2 == 0 {
		if f, err := os.Open("/proc/cpuinfo"); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				k, v, ok := strings.Cut(sc.Text(), ":")
				if ok && strings.TrimSpace(k) == "cache size" {
					if n, err := parseBytes(strings.TrimSuffix(strings.TrimSpace(v), "B")); err == nil && n >= 128<<10 && n <= 4<<20 {
						c.L2 = n
					}
					break
				}
			}
			f.Close()
		}
	}
	if c.L1 < 4<<10 || c.L1 > 1<<20 {
		c.L1 = DefaultCache.L1
	}
	if c.L2 < c.L1 || c.L2 > 64<<20 {
		c.L2 = DefaultCache.L2
	}
	return c
}

// tileMinMACs is the fewest multiply-accumulates per sample for which a
// convolution runs tiled: below it the unrolled kernels, whose shapes are
// constants, win.
const tileMinMACs = 20_000_000

// planTiled returns the tiled schedule of layer i, or nil when the layer
// keeps its unrolled or Winograd kernels. A convolution of at least
// tileMinMACs multiply-adds is tiled when its kernel does not fit in L1
// (so the unrolled kernels would stream it from L2 for every block of
// pixels) or its input channels are not in fours (a first layer, whose
// input is widened; the broadcasts load four channels); its output
// channels must come in blocks of 32. Sigmoid and tanh follow the kernel
// as for the other kernels.
func (g *gen) planTiled(i int, cache Cache) *runtime.ConvPlan {
	l := &g.m.Layers[i]
	if l.Kind != dsl.KindConv2D || l.Out[2]%32 != 0 {
		return nil
	}
	if a := g.act(i); a != "relu" && !simdAct(a) {
		return nil
	}
	kernelBytes := l.Kernel[0] * l.Kernel[1] * l.In[2] * l.Out[2] * 4
	macs := l.Out[0] * l.Out[1] * l.Kernel[0] * l.Kernel[1] * l.In[2] * l.Out[2]
	// A first layer's few channels (RGB) are widened to 4 with zeros: its
	// unrolled kernel pre-broadcasts the whole input, 8 copies of it.
	widen := l.In[2]%4 != 0
	if macs < tileMinMACs || kernelBytes <= cache.L1 && !widen {
		return nil
	}
	lh, lw := g.live(i)
	p := &runtime.ConvPlan{
		Layer: l.Name,
		InH:   l.In[0] + l.Pad[0] + l.Pad[1], InW: l.In[1] + l.Pad[2] + l.Pad[3], Ci: l.In[2],
		OutH: l.Out[0], OutW: l.Out[1], Co: l.Out[2],
		LiveH: lh, LiveW: lw,
		KH: l.Kernel[0], KW: l.Kernel[1], SH: l.Strides[0], SW: l.Strides[1],
		ReLU: g.act(i) == "relu",
	}
	schedule(p, cache)
	if widen {
		p.CiPad = (p.Ci + 3) / 4 * 4
		p.Chunk = p.CiPad
		// 32 filters fill two Float32x16 vectors: 4 pixels of them make
		// the register block, at twice the rate of 8-float vectors. (Its
		// weight gradient is not tiled: the input is widened.)
		if p.Co%64 != 0 {
			p.Width, p.Block, p.Pixels = 16, 32, 4
		}
	}
	p.Winograd = winograd4(p)
	return p
}

// winograd4 reports whether the tiled layer p runs Winograd's F(4x4, 3x3)
// (runtime's wino4_simd.go) instead of the direct kernel: 3x3 kernels
// with stride 1 and input channels in eights, with at least 16 tiles of
// 4x4 outputs, so that each transformed weight, which is 4 times the
// direct kernel's, is reused, and at least 2.5 times fewer multiply-adds
// counting the tiles' overhang past the live outputs.
func winograd4(p *runtime.ConvPlan) bool {
	if !p.WinogradFits() {
		return false
	}
	tiles := ((p.LiveH + 3) / 4) * ((p.LiveW + 3) / 4)
	return tiles >= 16 && 9*p.LiveH*p.LiveW*2 >= 5*36*tiles
}

// schedule sets the register block and the chunk of p, whose shapes are
// set, for cache. The block is 2 pixels x 4 vectors: 16-float vectors
// when the output channels come in 64s, 8-float ones otherwise.
//
// All input channels go in one pass when the pass (weight slab, input
// rows, output row) fills at most 3/4 of L2: each output is then written
// once. Otherwise the chunk is the largest whose weight slab fills at most
// 3/4 of L1, so that the pixel pairs of a row reload their weights from
// L1, not L2: with 2 pixels a block, every weight vector feeds only 2
// multiply-adds, and L2 cannot deliver 64 bytes per 2 of them. (Measured
// on VGG16's layers on Zen 5: 125-143 GFLOP/s with 16 channels, against
// 80-100 with chunks of 32 to 512 that do not fit L1; 141-152 with all
// channels where they fit L2.)
func schedule(p *runtime.ConvPlan, cache Cache) {
	p.Width, p.Pixels, p.L1, p.L2 = 16, 2, cache.L1, cache.L2
	if p.Co%64 != 0 {
		p.Width = 8
	}
	p.Block = 4 * p.Width
	p.Chunk = p.Ci
	if slab, rows, out := p.Workset(); slab+rows+out > cache.L2*3/4 {
		p.Chunk = 4
		for c := 4; c <= p.Ci; c += 4 {
			if p.Ci%c == 0 && p.KH*p.KW*c*p.Block*4 <= cache.L1*3/4 {
				p.Chunk = c
			}
		}
	}
}

// planTiledInput returns the tiled schedule of layer i's input gradient,
// or nil. It needs a tiled forward pass, stride 1, input channels in
// blocks of 32 (they are the gradient's output channels) and a layer
// whose input gradient is needed.
func (g *gen) planTiledInput(i int, cache Cache) *runtime.ConvGradPlan {
	l := &g.m.Layers[i]
	if !g.tiled(i) || !g.needDIn[i] || l.Strides != [2]int{1, 1} || l.In[2]%32 != 0 {
		return nil
	}
	kh, kw := l.Kernel[0], l.Kernel[1]
	h, w := l.In[0], l.In[1]
	wp := w + l.Pad[2] + l.Pad[3]
	lh, lw := g.live(i)
	gp := &runtime.ConvGradPlan{
		Conv: runtime.ConvPlan{
			Layer: l.Name + " (input gradient)",
			InH:   h + kh - 1, InW: w + kw - 1, Ci: l.Out[2],
			OutH: h, OutW: w, Co: l.In[2], LiveH: h, LiveW: w,
			KH: kh, KW: kw, SH: 1, SW: 1,
			OutStride: wp, OutOffset: (l.Pad[0]*wp + l.Pad[2]) * l.In[2],
		},
		DzH: lh, DzW: lw, DzW0: l.Out[1],
		Top: kh - 1 - l.Pad[0], Left: kw - 1 - l.Pad[2],
	}
	schedule(&gp.Conv, cache)
	gp.Conv.Winograd = winograd4(&gp.Conv)
	return gp
}

// convForwardTiled returns the body of layer i's tiled forward kernel.
func (g *gen) convForwardTiled(i int) string {
	b := "nil"
	if g.m.Layers[i].UseBias {
		b = "b[:]"
	}
	return fmt.Sprintf("runtime.ConvTiled(&tilePlan%d, in[:], k[:], %s, out[:], pk, ts)", i, b)
}

// convForwardTiledPool returns the body of forward<i>Pool in the SIMD
// build: the tiled kernel with the pool fused, which does not use tmp.
func (g *gen) convForwardTiledPool(i int) string {
	b := "nil"
	if g.m.Layers[i].UseBias {
		b = "b[:]"
	}
	return fmt.Sprintf("_ = tmp\nruntime.ConvTiled(&tilePoolPlan%d, in[:], k[:], %s, out[:], pk, ts)", i, b)
}

// planPool returns the schedule of tiled convolution i with the
// MaxPooling2D(2) after it fused (runtime's ConvPlan.Pool), or nil: the
// pool must have a 2x2 window, strides of 2 and no padding, the
// convolution a ReLU or no activation (another one would come between
// them), and the pool's output must not share a buffer with the
// convolution's input, which the fused kernel reads while it writes.
func (g *gen) planPool(i int) *runtime.ConvPlan {
	t := g.tiles[i]
	if t == nil || i+1 >= len(g.m.Layers) || t.OutStride != 0 || t.OutH < 2 || t.OutW < 2 {
		return nil
	}
	if a := g.act(i); a != "relu" && a != "linear" {
		return nil
	}
	l, next := &g.m.Layers[i], &g.m.Layers[i+1]
	if next.Kind != dsl.KindMaxPooling2D || next.Kernel != [2]int{2, 2} || next.Strides != [2]int{2, 2} ||
		next.Pad != [4]int{} || next.Out[0] != t.OutH/2 || next.Out[1] != t.OutW/2 {
		return nil
	}
	if t.LiveH < 2*next.Out[0] || t.LiveW < 2*next.Out[1] {
		return nil
	}
	src := g.out[i-1]
	if hasPad(l) {
		src = fmt.Sprintf("p%d", i)
	}
	a, sharedIn := g.shared[src]
	b, sharedOut := g.shared[g.out[i+1]]
	if sharedIn && sharedOut && a == b && t.CiPad == 0 {
		return nil
	}
	p := *t
	p.Pool = 2
	return &p
}

// explainPool says, indented, that layer i computes the max-pool after it
// in inference, or nothing when it does not.
func (g *gen) explainPool(i int, indent string) string {
	if g.pools[i] == nil {
		return ""
	}
	how := "two output rows at a time"
	if g.pools[i].Winograd {
		how = "one tile at a time"
	}
	return fmt.Sprintf("%sin inference, %s's 2x2 maxima are taken here: the outputs go through %s, not the whole map\n",
		indent, g.m.Layers[i+1].Name, how)
}

// tilePlans emits the schedule of each tiled layer and tiled input
// gradient, with its explanation.
func (g *gen) tilePlans(f *jen.File) {
	for i, p := range g.tiles {
		if p == nil {
			continue
		}
		explain := p.Explain()
		if g.tiled(i) {
			explain += "\n" + p.ExplainKernelGrad()
		}
		f.Comment(fmt.Sprintf("tilePlan%d is the schedule of %s:\n%s", i, g.layerComment(&g.m.Layers[i]), explain))
		f.Var().Id(fmt.Sprintf("tilePlan%d", i)).Op("=").Qual(RuntimePath, "ConvPlan").Values(convPlanDict(p))
		if pp := g.pools[i]; pp != nil {
			f.Comment(fmt.Sprintf("tilePoolPlan%d is tilePlan%d with %s's max-pool fused, for inference.", i, i, g.m.Layers[i+1].Name))
			f.Var().Id(fmt.Sprintf("tilePoolPlan%d", i)).Op("=").Qual(RuntimePath, "ConvPlan").Values(convPlanDict(pp))
		}
		if gp := g.tilesIn[i]; gp != nil {
			f.Comment(fmt.Sprintf("tileInPlan%d is the schedule of the input gradient of %s: the output\n"+
				"gradient, padded, convolved with the kernel flipped and transposed.\n%s", i, g.m.Layers[i].Name, gp.Conv.Explain()))
			f.Var().Id(fmt.Sprintf("tileInPlan%d", i)).Op("=").Qual(RuntimePath, "ConvGradPlan").Values(jen.Dict{
				jen.Id("Conv"): jen.Qual(RuntimePath, "ConvPlan").Values(convPlanDict(&gp.Conv)),
				jen.Id("DzH"):  jen.Lit(gp.DzH), jen.Id("DzW"): jen.Lit(gp.DzW), jen.Id("DzW0"): jen.Lit(gp.DzW0),
				jen.Id("Top"): jen.Lit(gp.Top), jen.Id("Left"): jen.Lit(gp.Left),
			})
		}
	}
}

// convPlanDict returns the fields of p as a composite literal's values.
func convPlanDict(p *runtime.ConvPlan) jen.Dict {
	return jen.DictFunc(func(d jen.Dict) {
		d[jen.Id("Layer")] = jen.Lit(p.Layer)
		for _, kv := range []struct {
			name string
			v    int
		}{
			{"InH", p.InH}, {"InW", p.InW}, {"Ci", p.Ci}, {"OutH", p.OutH}, {"OutW", p.OutW}, {"Co", p.Co},
			{"LiveH", p.LiveH}, {"LiveW", p.LiveW}, {"KH", p.KH}, {"KW", p.KW}, {"SH", p.SH}, {"SW", p.SW},
			{"Width", p.Width}, {"Block", p.Block}, {"Pixels", p.Pixels}, {"Chunk", p.Chunk}, {"L1", p.L1}, {"L2", p.L2},
		} {
			d[jen.Id(kv.name)] = jen.Lit(kv.v)
		}
		if p.CiPad != 0 {
			d[jen.Id("CiPad")] = jen.Lit(p.CiPad)
		}
		if p.OutStride != 0 {
			d[jen.Id("OutStride")] = jen.Lit(p.OutStride)
			d[jen.Id("OutOffset")] = jen.Lit(p.OutOffset)
		}
		d[jen.Id("ReLU")] = jen.Lit(p.ReLU)
		if p.Winograd {
			d[jen.Id("Winograd")] = jen.True()
		}
		if p.Pool != 0 {
			d[jen.Id("Pool")] = jen.Lit(p.Pool)
		}
	})
}

// Explain returns, for each layer of m with a kernel, the kernel the SIMD
// build runs and why: convc build -explain prints it.
func Explain(m *dsl.Model, opts Options) string {
	if opts.SpecPath == "" {
		opts.SpecPath = m.File
	}
	opts.SpecPath = dsl.CommentText(opts.SpecPath)
	g := &gen{m: m, opts: opts}
	g.plan()
	var b strings.Builder
	cache := opts.Cache
	if cache == (Cache{}) {
		cache = DefaultCache
	}
	fmt.Fprintf(&b, "# %s, planned for L1 %d KiB, L2 %d KiB\n", opts.SpecPath, cache.L1>>10, cache.L2>>10)
	for i := range m.Layers {
		l := &m.Layers[i]
		if l.Kind != dsl.KindConv2D && l.Kind != dsl.KindDense {
			continue
		}
		fmt.Fprintf(&b, "\n%s\n", g.layerComment(l))
		switch {
		case g.tiled(i):
			b.WriteString("  " + strings.ReplaceAll(g.tiles[i].Explain(), "\n", "\n  ") + "\n")
			b.WriteString("  " + g.tiles[i].ExplainKernelGrad() + "\n")
			b.WriteString(g.explainPool(i, "  "))
			if gp := g.tilesIn[i]; gp != nil {
				b.WriteString("  input gradient: the output gradient, padded, convolved with the kernel flipped and transposed:\n")
				b.WriteString("    " + strings.ReplaceAll(gp.Conv.Explain(), "\n", "\n    ") + "\n")
			}
		case g.wino(i):
			th, tw := g.winoGrid(i)
			fmt.Fprintf(&b, "  Winograd F(2x2, 3x3) over %dx%d tiles in bands of %d tile rows: 2.25x fewer multiplies than direct\n", th, tw, g.winoBand(i))
			if g.parTiled(i) {
				b.WriteString("  in inference, the tiled kernel, whose work splits across cores:\n")
				b.WriteString("    " + strings.ReplaceAll(g.tiles[i].Explain(), "\n", "\n    ") + "\n")
				b.WriteString(g.explainPool(i, "    "))
			}
		case l.Kind == dsl.KindConv2D:
			macs := l.Out.Size() * l.Kernel[0] * l.Kernel[1] * l.In[2]
			why := "its kernel fits in L1"
			if macs < tileMinMACs {
				why = fmt.Sprintf("%d multiply-adds, too few to pay for packing weights", macs)
			}
			if l.Out[2]%32 != 0 {
				why = "its filters are not in 32s"
			}
			fmt.Fprintf(&b, "  unrolled direct convolution with constant shapes: %s\n", why)
		default:
			b.WriteString("  Dense kernel vectorized over units\n")
		}
	}
	return b.String()
}
