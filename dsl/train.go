package dsl

import (
	"fmt"
	"strings"
)

// This file checks compile(...) and fit(...): optimizers, losses,
// metrics, data sources and callbacks, with their tables of defaults.

var compileArgs = []argSpec{
	{name: "optimizer", def: `"rmsprop"`},
	{name: "loss", required: true},
	{name: "metrics", def: "[]"},
}

const compileExample = `compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])`

// optimizerDef is an optimizer's call form with its Keras defaults.
type optimizerDef struct {
	name string // the string form: "rmsprop"
	args []argSpec
	set  func(o *Optimizer, arg string, v float64)
}

var optimizerDefs = map[string]*optimizerDef{
	"RMSprop": {
		name: "rmsprop",
		args: []argSpec{{name: "learning_rate", def: "0.001"}, {name: "rho", def: "0.9"}, {name: "momentum", def: "0.0"}, {name: "epsilon", def: "1e-07"}},
	},
	"Adam": {
		name: "adam",
		args: []argSpec{{name: "learning_rate", def: "0.001"}, {name: "beta_1", def: "0.9"}, {name: "beta_2", def: "0.999"}, {name: "epsilon", def: "1e-07"}},
	},
	"SGD": {
		name: "sgd",
		args: []argSpec{{name: "learning_rate", def: "0.01"}, {name: "momentum", def: "0.0"}},
	},
}

var (
	optimizerStrings = []string{"rmsprop", "adam", "sgd"}
	optimizerCalls   = []string{"RMSprop", "Adam", "SGD"}
	losses           = []string{"sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy"}
	metricNames      = []string{"accuracy"}
	monitors         = []string{"val_loss", "loss", "val_accuracy", "accuracy"}
	colorModes       = []string{"rgb", "grayscale", "rgba"}
)

// defaultOptimizer returns an optimizer with Keras's defaults.
func defaultOptimizer(name string) Optimizer {
	switch name {
	case "adam":
		return Optimizer{Name: name, LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-7}
	case "sgd":
		return Optimizer{Name: name, LearningRate: 0.01}
	}
	return Optimizer{Name: "rmsprop", LearningRate: 0.001, Rho: 0.9, Epsilon: 1e-7}
}

func defaultCompile() Compile {
	return Compile{Optimizer: defaultOptimizer("rmsprop")}
}

func (c *checker) compile(call *Call, m *Model) Compile {
	cp := defaultCompile()
	cp.Pos = c.pos(call.Pos)
	a := c.bind(call, "compile", compileArgs, 3, compileExample)
	if v := a.get("optimizer"); v != nil {
		cp.Optimizer = c.optimizer(v)
	}
	if v := a.get("loss"); v != nil {
		if loss, ok := c.toEnum(v, "loss", losses); ok {
			cp.Loss = loss
			c.checkLoss(v, loss, m)
		}
	}
	if v := a.get("metrics"); v != nil {
		if v.kind != vList && v.kind != vTuple {
			c.typeErr(v, "metrics", `a list such as ["accuracy"]`)
		} else {
			for _, e := range v.elems {
				if e.kind == vString && e.s == "acc" {
					e.s = "accuracy" // Keras's short name
				}
				if name, ok := c.toEnum(e, "metric", metricNames); ok {
					cp.Metrics = append(cp.Metrics, name)
				}
			}
		}
	}
	return cp
}

func (c *checker) optimizer(v *value) Optimizer {
	switch v.kind {
	case vString:
		name, _ := c.toEnum(v, "optimizer", optimizerStrings)
		return defaultOptimizer(name)
	case vCall:
		name := v.call.Name
		def := optimizerDefs[name]
		if def == nil {
			c.errs.add(v.pos, "unknown optimizer %s%s", c.clip(name), didYouMean(name, optimizerCalls, false))
			return defaultOptimizer("")
		}
		o := defaultOptimizer(def.name)
		// Keras 2's lr= is learning_rate=, as the book's first edition
		// writes it.
		for _, arg := range v.call.Args {
			if arg.Key == "lr" {
				arg.Key = "learning_rate"
			}
		}
		a := c.bind(v.call, name, def.args, len(def.args), name+"(learning_rate=1e-4)")
		for _, s := range def.args {
			arg := a.get(s.name)
			if arg == nil {
				continue
			}
			f, ok := c.toFloat(arg, name+" "+s.name)
			if !ok {
				continue
			}
			switch s.name {
			case "learning_rate":
				if f <= 0 {
					c.errs.add(arg.pos, "%s learning_rate must be positive, got %s", name, c.text(arg))
				}
				o.LearningRate = f
			case "rho", "beta_1", "beta_2":
				if f < 0 || f >= 1 {
					c.errs.add(arg.pos, "%s %s must be in [0, 1), got %s", name, s.name, c.text(arg))
				}
				switch s.name {
				case "rho":
					o.Rho = f
				case "beta_1":
					o.Beta1 = f
				default:
					o.Beta2 = f
				}
			case "momentum", "epsilon":
				if f < 0 {
					c.errs.add(arg.pos, "%s %s must not be negative, got %s", name, s.name, c.text(arg))
				}
				if s.name == "momentum" {
					o.Momentum = f
				} else {
					o.Epsilon = f
				}
			}
		}
		return o
	}
	c.typeErr(v, "optimizer", `a string such as "rmsprop" or a call such as RMSprop(learning_rate=1e-4)`)
	return defaultOptimizer("")
}

// checkLoss rejects losses that do not fit the model's output layer, as
// codegen computes each loss only on the output it belongs with.
func (c *checker) checkLoss(v *value, loss string, m *Model) {
	if len(m.Layers) == 0 || len(c.errs) > 0 {
		return // shapes are unknown; the layer errors come first
	}
	last := &m.Layers[len(m.Layers)-1]
	if len(last.Out) != 1 {
		c.errs.add(v.pos, "loss %s needs a vector output, got %s from %s; the output must be a vector; insert Flatten() and a Dense layer at the end", loss, shapeString(last.Out), last.Name)
		return
	}
	got := describeOutput(last)
	switch loss {
	case "sparse_categorical_crossentropy", "categorical_crossentropy":
		if last.Kind == KindDense && last.Activation == "softmax" && last.Units >= 2 {
			return
		}
		hint := `end the model with Dense(N, activation="softmax") for N >= 2 classes`
		if last.Kind == KindDense && last.Activation == "sigmoid" && last.Units == 1 {
			hint = `use loss="binary_crossentropy" for one sigmoid unit, or end with Dense(N, activation="softmax") for N >= 2 classes`
		}
		c.errs.add(v.pos, "loss %s needs a softmax output with at least 2 units, got %s; %s", loss, got, hint)
	case "binary_crossentropy":
		if last.Kind == KindDense && last.Activation == "sigmoid" {
			return
		}
		hint := `end the model with Dense(1, activation="sigmoid")`
		if last.Kind == KindDense && last.Activation == "softmax" {
			hint = `use loss="sparse_categorical_crossentropy" for a softmax over classes, or end with Dense(1, activation="sigmoid")`
		}
		c.errs.add(v.pos, "loss %s needs a sigmoid output, got %s; %s", loss, got, hint)
	}
}

// describeOutput names an output layer for loss messages.
func describeOutput(l *Layer) string {
	if l.Kind == KindDense {
		return fmt.Sprintf("%s = Dense(%d, activation=%q)", l.Name, l.Units, l.Activation)
	}
	return fmt.Sprintf("%s (%s)", l.Name, l.Kind)
}

var fitArgs = []argSpec{
	{name: "data", required: true},
	{name: "epochs", def: "1"},
	{name: "batch_size", def: "32"},
	{name: "validation_split", def: "0.0"},
	{name: "callbacks", def: "[]"},
	{name: "seed", def: "None"},
}

const fitExample = "fit(data=mnist(), epochs=5, batch_size=64)"

var (
	mnistArgs          []argSpec
	imageDirectoryArgs = []argSpec{
		{name: "directory", required: true},
		{name: "image_size", def: "(256, 256)"},
		{name: "color_mode", def: `"rgb"`},
	}
	modelCheckpointArgs = []argSpec{
		{name: "filepath", required: true},
		{name: "monitor", def: `"val_loss"`},
		{name: "save_best_only", def: "False"},
	}
	earlyStoppingArgs = []argSpec{
		{name: "monitor", def: `"val_loss"`},
		{name: "patience", def: "0"},
	}
)

func (c *checker) fit(call *Call, m *Model) Fit {
	f := Fit{Pos: c.pos(call.Pos), Epochs: 1, BatchSize: 32}
	a := c.bind(call, "fit", fitArgs, 1, fitExample)
	if v := a.get("data"); v != nil {
		f.Data = c.data(v, m)
	}
	if v := a.get("epochs"); v != nil {
		f.Epochs, _ = c.toInt(v, "fit epochs", 1)
	}
	if v := a.get("batch_size"); v != nil {
		f.BatchSize, _ = c.toInt(v, "fit batch_size", 1)
	}
	if v := a.get("validation_split"); v != nil {
		if s, ok := c.toFloat(v, "fit validation_split"); ok {
			switch {
			case s < 0 || s >= 1:
				c.errs.add(v.pos, "fit validation_split must be in [0, 1), got %s", c.text(v))
			case s > 0 && f.Data.Kind == "image_directory":
				c.errs.add(v.pos, "image_directory data has its own validation/ folder; remove validation_split")
			}
			f.ValidationSplit = s
		}
	}
	if v := a.get("seed"); v != nil && v.kind != vNone {
		if s, ok := c.toInt(v, "fit seed", 0); ok {
			f.Seed, f.HasSeed = int64(s), true
		}
	}
	if v := a.get("callbacks"); v != nil {
		if v.kind != vList && v.kind != vTuple {
			c.typeErr(v, "fit callbacks", `a list such as [EarlyStopping(patience=3)]`)
		} else {
			for _, e := range v.elems {
				if cb, ok := c.callback(e, m); ok {
					f.Callbacks = append(f.Callbacks, cb)
				}
			}
		}
	}
	return f
}

func (c *checker) data(v *value, m *Model) Data {
	if v.kind != vCall {
		c.typeErr(v, "fit data", `mnist() or image_directory("path", image_size=(180, 180))`)
		return Data{}
	}
	name := v.call.Name
	var d Data
	switch name {
	case "mnist":
		c.bind(v.call, name, mnistArgs, 0, "mnist()")
		d = Data{Kind: name, ImageSize: [2]int{28, 28}, ColorMode: "grayscale"}
	case "image_directory":
		a := c.bind(v.call, name, imageDirectoryArgs, 1, `image_directory("cats_vs_dogs_small", image_size=(180, 180))`)
		d = Data{Kind: name, ImageSize: [2]int{256, 256}, ColorMode: "rgb"}
		if p := a.get("directory"); p != nil {
			if p.kind != vString || p.s == "" {
				c.typeErr(p, "image_directory directory", `a folder name such as "cats_vs_dogs_small"`)
			}
			d.Path = p.s
		}
		if s := a.get("image_size"); s != nil {
			d.ImageSize, _ = c.toPair(s, "image_directory image_size")
		}
		if s := a.get("color_mode"); s != nil {
			d.ColorMode, _ = c.toEnum(s, "color_mode", colorModes)
		}
	default:
		c.errs.add(v.pos, "unknown data source %s%s", c.clip(name), didYouMean(name, []string{"mnist", "image_directory"}, false))
		return Data{}
	}
	// The data must fit the Input.
	if len(m.Layers) == 0 || m.Layers[0].Kind != KindInput || d.ColorMode == "" || d.ImageSize[0] == 0 {
		return d
	}
	ch := map[string]int{"grayscale": 1, "rgb": 3, "rgba": 4}[d.ColorMode]
	want := Shape{d.ImageSize[0], d.ImageSize[1], ch}
	if in := m.Layers[0].Out; shapeString(in) != shapeString(want) {
		what := "mnist() yields"
		if name == "image_directory" {
			what = fmt.Sprintf("image_directory with image_size=(%d, %d) and color_mode=%q yields", d.ImageSize[0], d.ImageSize[1], d.ColorMode)
		}
		c.errs.add(v.pos, "%s %s images, but the Input shape is %s; make them agree", what, shapeString(want), shapeString(in))
	}
	return d
}

func (c *checker) callback(v *value, m *Model) (Callback, bool) {
	if v.kind != vCall {
		c.typeErr(v, "each callback", `ModelCheckpoint("best.safetensors") or EarlyStopping(patience=3)`)
		return Callback{}, false
	}
	name := v.call.Name
	cb := Callback{Kind: name, Pos: v.pos, Monitor: "val_loss"}
	var a *args
	switch name {
	case "ModelCheckpoint":
		a = c.bind(v.call, name, modelCheckpointArgs, 2, `ModelCheckpoint("best.safetensors", save_best_only=True)`)
		if p := a.get("filepath"); p != nil {
			if p.kind != vString || p.s == "" {
				c.typeErr(p, "ModelCheckpoint filepath", `a file name such as "best.safetensors"`)
			}
			cb.Path = p.s
		}
		if b := a.get("save_best_only"); b != nil {
			cb.SaveBestOnly, _ = c.toBool(b, "ModelCheckpoint save_best_only")
		}
	case "EarlyStopping":
		a = c.bind(v.call, name, earlyStoppingArgs, 1, "EarlyStopping(patience=3)")
		if p := a.get("patience"); p != nil {
			cb.Patience, _ = c.toInt(p, "EarlyStopping patience", 0)
		}
	default:
		c.errs.add(v.pos, "unknown callback %s%s", c.clip(name), didYouMean(name, []string{"ModelCheckpoint", "EarlyStopping"}, false))
		return cb, false
	}
	if mv := a.get("monitor"); mv != nil {
		if mon, ok := c.toEnum(mv, "monitor", monitors); ok {
			cb.Monitor = mon
			if strings.HasSuffix(mon, "accuracy") && m.HasCompile && !contains(m.Compile.Metrics, "accuracy") {
				c.errs.add(mv.pos, `%s monitors %s, but compile has no metrics=["accuracy"]`, name, mon)
			}
		}
	}
	return cb, true
}

func contains(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}
