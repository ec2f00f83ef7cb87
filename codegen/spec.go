package codegen

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/convc/convc/dsl"
	"github.com/dave/jennifer/jen"
)

// specLiteral returns the runtime.Spec literal that describes the model to
// the runtime and to the reference interpreter. It is RuntimeSpec written
// as Go, so the two cannot disagree.
func (g *gen) specLiteral() *jen.Statement {
	m := g.m
	rs := RuntimeSpec(m, g.opts.SpecPath)
	ints := func(s []int) jen.Code {
		vals := make([]jen.Code, len(s))
		for i, d := range s {
			vals[i] = jen.Lit(d)
		}
		return jen.Index().Int().Values(vals...)
	}
	pair := func(v [2]float32) jen.Code {
		return jen.Index(jen.Lit(2)).Float32().Values(jen.Lit(v[0]), jen.Lit(v[1]))
	}
	var layers []jen.Code
	for i, l := range rs.Layers {
		d := jen.Dict{
			jen.Id("Kind"): jen.Lit(l.Kind),
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
		set("KH", l.KH, l.KH == 0)
		set("KW", l.KW, l.KW == 0)
		set("SH", l.SH, l.SH == 0)
		set("SW", l.SW, l.SW == 0)
		set("PadTop", l.PadTop, l.PadTop == 0)
		set("PadLeft", l.PadLeft, l.PadLeft == 0)
		set("CountIncludePad", l.CountIncludePad, !l.CountIncludePad)
		set("Activation", l.Activation, l.Activation == "")
		set("UseBias", l.UseBias, !l.UseBias)
		set("Trainable", l.Trainable, false)
		set("Mode", l.Mode, l.Mode == "")
		set("Rate", l.Rate, l.Rate == 0)
		set("Scale", l.Scale, l.Scale == 0)
		set("Offset", l.Offset, l.Offset == 0)
		set("FlipH", l.FlipH, !l.FlipH)
		set("FlipV", l.FlipV, !l.FlipV)
		if l.Factor != [2]float32{} {
			d[jen.Id("Factor")] = pair(l.Factor)
		}
		if l.WidthFactor != [2]float32{} {
			d[jen.Id("WidthFactor")] = pair(l.WidthFactor)
		}
		set("FillMode", l.FillMode, l.FillMode == "")
		set("Interpolation", l.Interpolation, l.Interpolation == "")
		if g.wino(i) {
			th, tw := g.winoGrid(i)
			d[jen.Id("WinogradTiles")] = jen.Lit(th * tw)
		}
		layers = append(layers, jen.Comment(l.Name+", "+g.opts.SpecPath+":"+itoa(m.Layers[i].Pos.Line)).Line().Values(d))
	}
	var params []jen.Code
	for _, p := range rs.Params {
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
	for _, c := range rs.Callbacks {
		callbacks = append(callbacks, jen.Values(jen.Dict{
			jen.Id("Kind"):         jen.Lit(c.Kind),
			jen.Id("Path"):         jen.Lit(c.Path),
			jen.Id("Monitor"):      jen.Lit(c.Monitor),
			jen.Id("SaveBestOnly"): jen.Lit(c.SaveBestOnly),
			jen.Id("Patience"):     jen.Lit(c.Patience),
		}))
	}
	var pretrained []jen.Code
	for _, p := range rs.Pretrained {
		names := make([]jen.Code, len(p.Params))
		for i, n := range p.Params {
			names[i] = jen.Lit(n)
		}
		pretrained = append(pretrained, jen.Values(jen.Dict{
			jen.Id("Group"):      jen.Lit(p.Group),
			jen.Id("Arch"):       jen.Lit(p.Arch),
			jen.Id("Weights"):    jen.Lit(p.Weights),
			jen.Id("Source"):     jen.Lit(p.Source),
			jen.Id("Params"):     jen.Index().String().Values(names...),
			jen.Id("Preprocess"): jen.Lit(p.Preprocess),
		}))
	}
	o := rs.Optimizer
	d := jen.Dict{
		jen.Id("Name"):            jen.Lit(rs.Name),
		jen.Id("File"):            jen.Lit(rs.File),
		jen.Id("Hash"):            jen.Lit(rs.Hash),
		jen.Id("Layers"):          jen.Index().Qual(RuntimePath, "Layer").Values(append(layers, jen.Line())...),
		jen.Id("Params"):          jen.Index().Qual(RuntimePath, "ParamSpec").Values(append(params, jen.Line())...),
		jen.Id("Loss"):            jen.Lit(rs.Loss),
		jen.Id("Optimizer"):       jen.Qual(RuntimePath, "Optimizer").Values(jen.Dict{jen.Id("Name"): jen.Lit(o.Name), jen.Id("LearningRate"): jen.Lit(o.LearningRate), jen.Id("Rho"): jen.Lit(o.Rho), jen.Id("Momentum"): jen.Lit(o.Momentum), jen.Id("Epsilon"): jen.Lit(o.Epsilon), jen.Id("Beta1"): jen.Lit(o.Beta1), jen.Id("Beta2"): jen.Lit(o.Beta2)}),
		jen.Id("Data"):            jen.Lit(rs.Data),
		jen.Id("DataPath"):        jen.Lit(rs.DataPath),
		jen.Id("ImageSize"):       jen.Index(jen.Lit(2)).Int().Values(jen.Lit(rs.ImageSize[0]), jen.Lit(rs.ImageSize[1])),
		jen.Id("ColorMode"):       jen.Lit(rs.ColorMode),
		jen.Id("Epochs"):          jen.Lit(rs.Epochs),
		jen.Id("BatchSize"):       jen.Lit(rs.BatchSize),
		jen.Id("ValidationSplit"): jen.Lit(rs.ValidationSplit),
		jen.Id("Seed"):            jen.Lit(rs.Seed),
		jen.Id("Callbacks"):       jen.Index().Qual(RuntimePath, "Callback").Values(callbacks...),
		jen.Id("Summary"):         jen.Lit(rs.Summary),
	}
	if rs.InferenceOnly {
		d[jen.Id("InferenceOnly")] = jen.True()
	}
	if len(pretrained) > 0 {
		d[jen.Id("Pretrained")] = jen.Index().Qual(RuntimePath, "Pretrained").Values(pretrained...)
	}
	return jen.Qual(RuntimePath, "Spec").Values(d)
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
	f.Comment("TestInference checks that Predict and PredictBatch agree, allocate\nnothing, and are safe to call from several goroutines.")
	f.Func().Id("TestInference").Params(jen.Id("t").Op("*").Qual("testing", "T")).Block(
		jen.Qual(rtestPath, "CheckInference").Call(jen.Id("t"), jen.Id("New").Call()),
	)
	f.Comment("Example runs the model on one input and on a batch of two.")
	f.Func().Id("Example").Params().Block(
		jen.Id("m").Op(":=").Id("New").Call(),
		jen.Comment("Load trained weights with m.LoadWeights(\""+g.m.Name+".safetensors\"); here they are\n// drawn as Keras initializes them."),
		jen.Id("m").Dot("Init").Call(jen.Lit(0)),
		jen.Line(),
		jen.Id("x").Op(":=").Make(jen.Index().Float32(), jen.Id("InputSize")).Comment("one preprocessed input"),
		jen.Id("probs").Op(":=").Make(jen.Index().Float32(), jen.Id("OutputSize")),
		jen.If(jen.Err().Op(":=").Id("m").Dot("Predict").Call(jen.Id("x"), jen.Id("probs")), jen.Err().Op("!=").Nil()).Block(
			jen.Qual("log", "Fatal").Call(jen.Err()),
		),
		jen.Line(),
		jen.Id("batch").Op(":=").Make(jen.Index().Float32(), jen.Lit(2).Op("*").Id("InputSize")).Comment("two inputs, one after the other"),
		jen.Id("batchProbs").Op(":=").Make(jen.Index().Float32(), jen.Lit(2).Op("*").Id("OutputSize")),
		jen.If(jen.Err().Op(":=").Id("m").Dot("PredictBatch").Call(jen.Id("batch"), jen.Id("batchProbs")), jen.Err().Op("!=").Nil()).Block(
			jen.Qual("log", "Fatal").Call(jen.Err()),
		),
		jen.Qual("fmt", "Println").Call(jen.Len(jen.Id("probs")), jen.Lit("outputs; the batch agrees:"), jen.Qual("slices", "Equal").Call(jen.Id("probs"), jen.Id("batchProbs").Index(jen.Op(":").Id("OutputSize")))),
		jen.Comment(fmt.Sprintf("Output: %d outputs; the batch agrees: true", g.m.Output().Size())),
	)
	f.Comment("BenchmarkTrainStep measures one forward and backward pass of a sample.")
	f.Func().Id("BenchmarkTrainStep").Params(jen.Id("b").Op("*").Qual("testing", "B")).Block(
		jen.Qual(rtestPath, "BenchTrainStep").Call(jen.Id("b"), jen.Id("New").Call()),
	)
	// Layer names that differ only in their first letter's case, or that
	// end where another's kernel name begins, give one benchmark name:
	// the later one gets the layer's index.
	used := map[string]bool{"BenchmarkTrainStep": true, "BenchmarkPredict": true}
	for _, bc := range g.benches {
		l := &g.m.Layers[bc.layer]
		name := "Benchmark" + exportName(l.Name) + bc.what
		if used[name] {
			name = fmt.Sprintf("Benchmark%s%s_%d", exportName(l.Name), bc.what, bc.layer)
		}
		used[name] = true
		f.Comment(fmt.Sprintf("%s measures the %s kernel of %s: %s %s -> %s.", name, bc.what, l.Name, dsl.CommentSource(l.Source), shapeString(l.In), shapeString(l.Out)))
		f.Func().Id(name).Params(jen.Id("b").Op("*").Qual("testing", "B")).Block(
			jen.Id("m").Op(":=").Id("New").Call(),
			jen.Qual(rtestPath, "RandomParams").Call(jen.Id("m"), jen.Lit(1)),
			jen.Id("w").Op(":=").Id("m").Dot("NewWorker").Call().Assert(jen.Op("*").Id("worker")),
			jen.Id("grads").Op(":=").Qual(rtestPath, "NewGrads").Call(jen.Id("m")),
			jen.Comment("Fill the activations and gradients the kernel reads."),
			jen.Id("out").Op(":=").Id("w").Dot("Forward").Call(jen.Qual(rtestPath, "RandomInput").Call(jen.Op("&").Id("spec"), jen.Lit(1)), jen.True(), jen.Lit(1)),
			jen.Id("w").Dot("Backward").Call(jen.Append(jen.Index().Float32().Values(), jen.Id("out").Op("...")), jen.Id("grads")),
			jen.For(jen.Id("b").Dot("Loop").Call()).Block(bc.call),
		)
	}
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

// exportName turns a layer name (conv2d_1) into the part of a benchmark
// name (Conv2d_1).
func exportName(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
