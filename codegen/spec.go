package codegen

import (
	"strconv"

	"github.com/convc/convc/dsl"
	"github.com/dave/jennifer/jen"
)

// specLiteral returns the runtime.Spec literal that describes the model to
// the runtime and to the reference interpreter.
func (g *gen) specLiteral() *jen.Statement {
	m := g.m
	ints := func(s []int) jen.Code {
		vals := make([]jen.Code, len(s))
		for i, d := range s {
			vals[i] = jen.Lit(d)
		}
		return jen.Index().Int().Values(vals...)
	}
	var layers []jen.Code
	for i := range m.Layers {
		l := &m.Layers[i]
		d := jen.Dict{
			jen.Id("Kind"): jen.Lit(string(l.Kind)),
			jen.Id("Name"): jen.Lit(l.Name),
			jen.Id("In"):   ints(l.In),
			jen.Id("Out"):  ints(l.Out),
		}
		set := func(name string, v any, zero bool) {
			if !zero {
				d[jen.Id(name)] = jen.Lit(v)
			}
		}
		set("Filters", l.Filters, l.Filters == 0)
		set("Units", l.Units, l.Units == 0)
		set("KH", l.Kernel[0], l.Kernel[0] == 0)
		set("KW", l.Kernel[1], l.Kernel[1] == 0)
		set("SH", l.Strides[0], l.Strides[0] == 0)
		set("SW", l.Strides[1], l.Strides[1] == 0)
		set("PadTop", l.Pad[0], l.Pad[0] == 0)
		set("PadLeft", l.Pad[2], l.Pad[2] == 0)
		if l.Kind == dsl.KindConv2D || l.Kind == dsl.KindDense {
			set("Activation", l.Activation, false)
			set("UseBias", l.UseBias, false)
		}
		set("Trainable", l.Trainable, false)
		set("Rate", float32(l.Rate), l.Rate == 0)
		if l.Kind == dsl.KindRescaling {
			set("Scale", float32(l.Scale), false)
			set("Offset", float32(l.Offset), l.Offset == 0)
		}
		if l.Kind == dsl.KindRandomFlip {
			set("FlipH", l.FlipMode != "vertical", false)
			set("FlipV", l.FlipMode != "horizontal", false)
		}
		if l.Kind == dsl.KindRandomRotation || l.Kind == dsl.KindRandomZoom {
			d[jen.Id("Factor")] = jen.Index(jen.Lit(2)).Float32().Values(jen.Lit(float32(l.Factor[0])), jen.Lit(float32(l.Factor[1])))
			if l.Kind == dsl.KindRandomZoom {
				d[jen.Id("WidthFactor")] = jen.Index(jen.Lit(2)).Float32().Values(jen.Lit(float32(l.WidthFactor[0])), jen.Lit(float32(l.WidthFactor[1])))
			}
			set("FillMode", l.FillMode, false)
			set("Interpolation", l.Interpolation, false)
		}
		layers = append(layers, jen.Comment(l.Name+", "+g.opts.SpecPath+":"+itoa(l.Pos.Line)).Line().Values(d))
	}
	var params []jen.Code
	for _, p := range m.Params() {
		params = append(params, jen.Values(jen.Dict{
			jen.Id("Name"):      jen.Lit(p.Name),
			jen.Id("Shape"):     ints(p.Shape),
			jen.Id("Trainable"): jen.Lit(p.Trainable),
			jen.Id("Init"):      jen.Lit(p.Init),
			jen.Id("FanIn"):     jen.Lit(p.FanIn),
			jen.Id("FanOut"):    jen.Lit(p.FanOut),
		}))
	}
	var callbacks []jen.Code
	for _, c := range m.Fit.Callbacks {
		callbacks = append(callbacks, jen.Values(jen.Dict{
			jen.Id("Kind"):         jen.Lit(c.Kind),
			jen.Id("Path"):         jen.Lit(c.Path),
			jen.Id("Monitor"):      jen.Lit(c.Monitor),
			jen.Id("SaveBestOnly"): jen.Lit(c.SaveBestOnly),
			jen.Id("Patience"):     jen.Lit(c.Patience),
		}))
	}
	o := m.Compile.Optimizer
	return jen.Qual(RuntimePath, "Spec").Values(jen.Dict{
		jen.Id("Name"):            jen.Lit(m.Name),
		jen.Id("File"):            jen.Lit(g.opts.SpecPath),
		jen.Id("Hash"):            jen.Lit(m.Hash),
		jen.Id("Layers"):          jen.Index().Qual(RuntimePath, "Layer").Values(append(layers, jen.Line())...),
		jen.Id("Params"):          jen.Index().Qual(RuntimePath, "ParamSpec").Values(append(params, jen.Line())...),
		jen.Id("Loss"):            jen.Lit(m.Compile.Loss),
		jen.Id("Optimizer"):       jen.Qual(RuntimePath, "Optimizer").Values(jen.Dict{jen.Id("Name"): jen.Lit(o.Name), jen.Id("LearningRate"): jen.Lit(float32(o.LearningRate)), jen.Id("Rho"): jen.Lit(float32(o.Rho)), jen.Id("Momentum"): jen.Lit(float32(o.Momentum)), jen.Id("Epsilon"): jen.Lit(float32(o.Epsilon)), jen.Id("Beta1"): jen.Lit(float32(o.Beta1)), jen.Id("Beta2"): jen.Lit(float32(o.Beta2))}),
		jen.Id("Data"):            jen.Lit(m.Fit.Data.Kind),
		jen.Id("DataPath"):        jen.Lit(m.Fit.Data.Path),
		jen.Id("ImageSize"):       jen.Index(jen.Lit(2)).Int().Values(jen.Lit(m.Fit.Data.ImageSize[0]), jen.Lit(m.Fit.Data.ImageSize[1])),
		jen.Id("ColorMode"):       jen.Lit(m.Fit.Data.ColorMode),
		jen.Id("Epochs"):          jen.Lit(m.Fit.Epochs),
		jen.Id("BatchSize"):       jen.Lit(m.Fit.BatchSize),
		jen.Id("ValidationSplit"): jen.Lit(float32(m.Fit.ValidationSplit)),
		jen.Id("Seed"):            jen.Lit(m.Fit.Seed),
		jen.Id("Callbacks"):       jen.Index().Qual(RuntimePath, "Callback").Values(callbacks...),
		jen.Id("Summary"):         jen.Lit(dsl.Summary(m, false)),
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// testFile emits the package's tests: the generated kernels against the
// reference interpreter, a training step without allocation, and
// benchmarks.
func (g *gen) testFile() *jen.File {
	f := jen.NewFile(g.m.Name)
	f.HeaderComment(g.header())
	f.ImportName(rtestPath, "rtest")
	f.Comment("TestMatchesReference checks the generated forward and backward passes\nagainst the runtime's naive reference interpreter.")
	f.Func().Id("TestMatchesReference").Params(jen.Id("t").Op("*").Qual("testing", "T")).Block(
		jen.Qual(rtestPath, "CheckAgainstReference").Call(jen.Id("t"), jen.Id("New").Call()),
	)
	f.Comment("TestTrainStepAllocs checks that a training step allocates nothing.")
	f.Func().Id("TestTrainStepAllocs").Params(jen.Id("t").Op("*").Qual("testing", "T")).Block(
		jen.Qual(rtestPath, "CheckNoAllocs").Call(jen.Id("t"), jen.Id("New").Call()),
	)
	f.Comment("BenchmarkTrainStep measures one forward and backward pass of a sample.")
	f.Func().Id("BenchmarkTrainStep").Params(jen.Id("b").Op("*").Qual("testing", "B")).Block(
		jen.Qual(rtestPath, "BenchTrainStep").Call(jen.Id("b"), jen.Id("New").Call()),
	)
	f.Comment("BenchmarkPredict measures one forward pass of a sample.")
	f.Func().Id("BenchmarkPredict").Params(jen.Id("b").Op("*").Qual("testing", "B")).Block(
		jen.Qual(rtestPath, "BenchPredict").Call(jen.Id("b"), jen.Id("New").Call()),
	)
	return f
}

// mainFile emits the trainer's main package: a thin wrapper around the
// runtime's command line.
func (g *gen) mainFile() *jen.File {
	f := jen.NewFile("main")
	f.HeaderComment(g.header())
	f.PackageComment("Command " + g.m.Name + " trains, evaluates and runs the " + g.m.Name + " network of\n" + g.opts.SpecPath + ". Run it with -h for its commands.")
	f.Func().Id("main").Params().Block(
		jen.Qual("os", "Exit").Call(jen.Qual(RuntimePath, "Main").Call(
			jen.Qual(g.opts.ImportPath, "New").Call(),
			jen.Qual("os", "Args").Index(jen.Lit(1).Op(":")),
		)),
	)
	return f
}
