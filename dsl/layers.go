package dsl

import (
	"fmt"
	"math"
	"strings"
)

// This file is the table of layer kinds: for each, its arguments in
// Keras's order with their defaults, how it resolves them, its shape rule
// and its parameter rule. The checker, the summary and the language
// reference all follow it.

// argSpec is one argument of a call.
type argSpec struct {
	name     string
	required bool
	// def is the default as the reference documents it.
	def string
}

// layerDef describes one layer kind.
type layerDef struct {
	kind Kind
	// snake is the prefix of Keras's default names (conv2d, conv2d_1, ...).
	snake string
	// args lists the arguments in Keras's positional order; the first
	// npos may be given positionally. name= and trainable= are added to
	// every layer.
	args []argSpec
	// allArgs is args followed by commonArgs.
	allArgs []argSpec
	npos    int
	example string
	// image is true when the layer needs an (height, width, channels)
	// input.
	image bool
	// resolve fills the layer's fields from its arguments; it reports
	// bad values and returns false if any.
	resolve func(c *checker, l *Layer, a *args) bool
	// shape computes the output shape from l.In, or reports why it cannot
	// and returns nil.
	shape func(c *checker, l *Layer, a *args) Shape
	// params fills l.Params and l.MACs from the shapes.
	params func(c *checker, l *Layer, a *args)
}

// Limits that keep shape and parameter arithmetic far from overflow.
const (
	maxDim    = 1 << 24 // any size, stride or count argument
	maxElems  = 1 << 31 // elements of one sample's activation
	maxParams = 1 << 34 // scalars in one parameter tensor
)

var activations = []string{"relu", "sigmoid", "softmax", "tanh", "linear"}

var paddings = []string{"valid", "same"}

var commonArgs = []argSpec{
	{name: "name", def: "None"},
	{name: "trainable", def: "True"},
	// input_shape on the first layer stands for an Input, as in Keras's
	// Sequential models: Conv2D(32, 3, input_shape=(28, 28, 1)).
	{name: "input_shape", def: "None"},
}

func init() {
	for _, d := range layerDefs {
		d.allArgs = append(d.args[:len(d.args):len(d.args)], commonArgs...)
	}
	// Keras's aliases.
	layerDefs["MaxPool2D"] = layerDefs["MaxPooling2D"]
	layerDefs["AvgPool2D"] = layerDefs["AveragePooling2D"]
}

var layerDefs = map[string]*layerDef{
	"Input": {
		kind: KindInput, snake: "input",
		args:    []argSpec{{name: "shape", required: true}},
		npos:    1,
		example: "Input(shape=(28, 28, 1))",
		resolve: resolveInput,
		shape:   func(c *checker, l *Layer, a *args) Shape { return l.Out },
	},
	"Conv2D": {
		kind: KindConv2D, snake: "conv2d",
		args: []argSpec{
			{name: "filters", required: true},
			{name: "kernel_size", required: true},
			{name: "strides", def: "1"},
			{name: "padding", def: `"valid"`},
			{name: "activation", def: "None"},
			{name: "use_bias", def: "True"},
		},
		npos:    4,
		example: `Conv2D(filters=32, kernel_size=3, activation="relu")`,
		image:   true,
		resolve: resolveConv2D,
		shape:   windowShape,
		params:  conv2DParams,
	},
	"MaxPooling2D": {
		kind: KindMaxPooling2D, snake: "max_pooling2d",
		args:    poolArgs,
		npos:    3,
		example: "MaxPooling2D(pool_size=2)",
		image:   true,
		resolve: resolvePool,
		shape:   windowShape,
	},
	"AveragePooling2D": {
		kind: KindAveragePooling2D, snake: "average_pooling2d",
		args:    append(poolArgs[:len(poolArgs):len(poolArgs)], argSpec{name: "count_include_pad", def: "False"}),
		npos:    3,
		example: "AveragePooling2D(pool_size=2)",
		image:   true,
		resolve: resolveAveragePool,
		shape:   windowShape,
	},
	"Flatten": {
		kind: KindFlatten, snake: "flatten",
		example: "Flatten()",
		image:   true,
		resolve: func(c *checker, l *Layer, a *args) bool { return true },
		shape:   func(c *checker, l *Layer, a *args) Shape { return Shape{l.In.Size()} },
	},
	"Dense": {
		kind: KindDense, snake: "dense",
		args: []argSpec{
			{name: "units", required: true},
			{name: "activation", def: "None"},
			{name: "use_bias", def: "True"},
		},
		npos:    3,
		example: `Dense(10, activation="softmax")`,
		resolve: resolveDense,
		shape:   denseShape,
		params:  denseParams,
	},
	"Dropout": {
		kind: KindDropout, snake: "dropout",
		args:    []argSpec{{name: "rate", required: true}},
		npos:    1,
		example: "Dropout(0.5)",
		resolve: resolveDropout,
		shape:   sameShape,
	},
	"Rescaling": {
		kind: KindRescaling, snake: "rescaling",
		args:    []argSpec{{name: "scale", required: true}, {name: "offset", def: "0.0"}},
		npos:    2,
		example: "Rescaling(1./255)",
		image:   true,
		resolve: resolveRescaling,
		shape:   sameShape,
		params: func(c *checker, l *Layer, a *args) {
			l.MACs = int64(l.In.Size())
		},
	},
	"PreprocessInput": {
		kind: KindPreprocessInput, snake: "preprocess_input",
		args:    []argSpec{{name: "mode", def: `"caffe"`}},
		npos:    1,
		example: `PreprocessInput(mode="torch")`,
		image:   true,
		resolve: resolvePreprocess,
		shape: func(c *checker, l *Layer, a *args) Shape {
			if l.In[2] != 3 {
				c.errs.add(l.Pos, "PreprocessInput normalizes RGB images, got %s; load 3-channel images (color_mode=\"rgb\")", shapeString(l.In))
				return nil
			}
			return l.In
		},
		params: func(c *checker, l *Layer, a *args) {
			l.MACs = int64(l.In.Size())
		},
	},
	"RandomFlip": {
		kind: KindRandomFlip, snake: "random_flip",
		args:    []argSpec{{name: "mode", def: `"horizontal_and_vertical"`}},
		npos:    1,
		example: `RandomFlip("horizontal")`,
		image:   true,
		resolve: resolveRandomFlip,
		shape:   sameShape,
	},
	"RandomRotation": {
		kind: KindRandomRotation, snake: "random_rotation",
		args: []argSpec{
			{name: "factor", required: true},
			{name: "fill_mode", def: `"reflect"`},
			{name: "interpolation", def: `"bilinear"`},
		},
		npos:    3,
		example: "RandomRotation(0.1)",
		image:   true,
		resolve: resolveRandomRotation,
		shape:   sameShape,
	},
	"RandomZoom": {
		kind: KindRandomZoom, snake: "random_zoom",
		args: []argSpec{
			{name: "height_factor", required: true},
			{name: "width_factor", def: "None"},
			{name: "fill_mode", def: `"reflect"`},
			{name: "interpolation", def: `"bilinear"`},
		},
		npos:    4,
		example: "RandomZoom(0.2)",
		image:   true,
		resolve: resolveRandomZoom,
		shape:   sameShape,
	},
}

var poolArgs = []argSpec{
	{name: "pool_size", def: "2"},
	{name: "strides", def: "None"},
	{name: "padding", def: `"valid"`},
}

var (
	fillModes      = []string{"reflect", "wrap", "constant", "nearest"}
	interpolations = []string{"bilinear", "nearest"}
	flipModes      = []string{"horizontal", "vertical", "horizontal_and_vertical"}
)

// layerNames lists the layer calls, for suggestions.
var layerNames = func() []string {
	var s []string
	for name := range layerDefs {
		s = append(s, name)
	}
	return append(s, "VGG16")
}()

func resolveInput(c *checker, l *Layer, a *args) bool {
	v := a.get("shape")
	if v == nil {
		return false
	}
	s, ok := c.toShape(v)
	l.Out = s
	return ok
}

// toShape converts an Input shape: a tuple of positive dimensions, of rank
// 3 for images or 1 for vectors, without None.
func (c *checker) toShape(v *value) (Shape, bool) {
	if v.kind != vTuple && v.kind != vList {
		c.typeErr(v, "Input shape", "a tuple such as (28, 28, 1)")
		return nil, false
	}
	var s Shape
	ok := true
	for _, e := range v.elems {
		if e.kind == vNone {
			c.errs.add(e.pos, "Input shape must not contain None; convc needs every dimension, and the batch dimension is left out")
			ok = false
			continue
		}
		n, good := c.toInt(e, "each Input dimension", 1)
		ok = ok && good
		s = append(s, n)
	}
	if !ok {
		return nil, false
	}
	switch len(s) {
	case 3, 1:
	case 2:
		c.errs.add(v.pos, "Input shape %s has rank 2; give images a channel dimension: (%d, %d, 1)", shapeString(s), s[0], s[1])
		return nil, false
	default:
		c.errs.add(v.pos, "Input shape %s has rank %d; convc takes images (height, width, channels) or vectors (units,)", c.text(v), len(s))
		return nil, false
	}
	size := 1
	for _, d := range s {
		size = satMul(size, d)
	}
	if size > maxElems {
		c.errs.add(v.pos, "Input shape %s has %d elements; the limit is %d", shapeString(s), size, maxElems)
		return nil, false
	}
	return s, true
}

func resolveConv2D(c *checker, l *Layer, a *args) bool {
	ok := true
	if v := a.get("filters"); v != nil {
		n, good := c.toInt(v, "Conv2D filters", 1)
		l.Filters, ok = n, ok && good
	} else {
		ok = false
	}
	if v := a.get("kernel_size"); v != nil {
		k, good := c.toPair(v, "Conv2D kernel_size")
		l.Kernel, ok = k, ok && good
	} else {
		ok = false
	}
	ok = resolveWindow(c, l, a, [2]int{1, 1}) && ok
	ok = resolveActivation(c, l, a) && ok
	return ok
}

// resolveWindow reads strides and padding; strides default to def.
func resolveWindow(c *checker, l *Layer, a *args, def [2]int) bool {
	ok := true
	l.Strides = def
	if v := a.get("strides"); v != nil && v.kind != vNone {
		s, good := c.toPair(v, string(l.Kind)+" strides")
		l.Strides, ok = s, good
	} else if v != nil && l.Kind == KindConv2D {
		c.typeErr(v, "Conv2D strides", "an int or a pair of ints")
		ok = false
	}
	l.Padding = "valid"
	if v := a.get("padding"); v != nil {
		if v.kind == vString {
			p, good := c.toEnum(v, "padding", paddings)
			l.Padding, ok = p, ok && good
		} else {
			pad, good := c.toExplicitPad(v, string(l.Kind)+" padding")
			l.Padding, l.Pad, ok = "explicit", pad, ok && good
		}
	}
	return ok
}

// toExplicitPad converts the explicit padding form, which Keras's
// ZeroPadding2D takes and PyTorch's and ONNX's padded convolutions need:
// an int n (n zeros on every side), a pair (h, w) (h rows at the top and
// the bottom, w columns at the left and the right) or a pair of pairs
// ((top, bottom), (left, right)). It returns (top, bottom, left, right).
func (c *checker) toExplicitPad(v *value, what string) ([4]int, bool) {
	const want = `"valid", "same", an int, a pair (rows, columns) or ((top, bottom), (left, right))`
	side := func(e *value) (int, bool) {
		if e.kind != vInt {
			c.typeErr(e, what, want)
			return 0, false
		}
		return c.toInt(e, what, 0)
	}
	if v.kind == vInt {
		n, ok := side(v)
		return [4]int{n, n, n, n}, ok
	}
	if (v.kind != vTuple && v.kind != vList) || len(v.elems) != 2 {
		c.typeErr(v, what, want)
		return [4]int{}, false
	}
	var pad [4]int
	ok := true
	for i, e := range v.elems {
		if e.kind == vTuple || e.kind == vList {
			if len(e.elems) != 2 {
				c.typeErr(e, what, want)
				ok = false
				continue
			}
			a, ok1 := side(e.elems[0])
			b, ok2 := side(e.elems[1])
			pad[2*i], pad[2*i+1], ok = a, b, ok && ok1 && ok2
			continue
		}
		n, good := side(e)
		pad[2*i], pad[2*i+1], ok = n, n, ok && good
	}
	return pad, ok
}

func resolveActivation(c *checker, l *Layer, a *args) bool {
	ok := true
	l.Activation = "linear"
	if v := a.get("activation"); v != nil && v.kind != vNone {
		act, good := c.toEnum(v, "activation", activations)
		l.Activation, ok = act, good
	}
	l.UseBias = true
	if v := a.get("use_bias"); v != nil {
		b, good := c.toBool(v, string(l.Kind)+" use_bias")
		l.UseBias, ok = b, ok && good
	}
	return ok
}

func resolvePool(c *checker, l *Layer, a *args) bool {
	ok := true
	l.Kernel = [2]int{2, 2}
	if v := a.get("pool_size"); v != nil {
		k, good := c.toPair(v, string(l.Kind)+" pool_size")
		l.Kernel, ok = k, good
	}
	// strides=None means the pool size.
	return resolveWindow(c, l, a, l.Kernel) && ok
}

// resolveAveragePool reads the pooling arguments and count_include_pad,
// convc's own: False (Keras's rule) divides each window's sum by its cells
// inside the input, True by the whole window, padding included, as
// PyTorch's default and ONNX's count_include_pad=1 do.
func resolveAveragePool(c *checker, l *Layer, a *args) bool {
	ok := resolvePool(c, l, a)
	if v := a.get("count_include_pad"); v != nil {
		b, good := c.toBool(v, "AveragePooling2D count_include_pad")
		l.CountIncludePad, ok = b, ok && good
	}
	return ok
}

// windowShape is the shape rule of Conv2D and pooling, TensorFlow's
// conv_output_length, and the "same" padding that goes with it.
func windowShape(c *checker, l *Layer, a *args) Shape {
	in := l.In
	out := Shape{0, 0, l.In[2]}
	if l.Kind == KindConv2D {
		out[2] = l.Filters
	}
	for i := 0; i < 2; i++ {
		k, s := l.Kernel[i], l.Strides[i]
		if l.Padding == "same" {
			out[i] = (in[i] + s - 1) / s
			p := max((out[i]-1)*s+k-in[i], 0)
			l.Pad[2*i], l.Pad[2*i+1] = p/2, p-p/2
			continue
		}
		if l.Padding == "explicit" {
			lo, hi := l.Pad[2*i], l.Pad[2*i+1]
			if l.Kind != KindConv2D && (lo >= k || hi >= k) {
				// A window wholly in the padding would have no cell to
				// take the maximum or the mean of.
				dim := [2]string{"rows", "columns"}[i]
				c.errs.add(a.pos("padding"), "%s pads %d and %d %s around its input, but its pool spans only %d %s; each pad must be smaller than the pool, or a window would hold only padding",
					l.Name, lo, hi, dim, k, dim)
				return nil
			}
			if lo > maxDim || hi > maxDim {
				c.errs.add(a.pos("padding"), "%s padding is more than %d", l.Name, maxDim)
				return nil
			}
			if in[i]+lo+hi < k {
				c.errs.add(a.pos("padding"), "%s pads its input %s to %d %s, less than its %dx%d window; pad more or use a smaller window",
					l.Name, shapeString(in), in[i]+lo+hi, [2]string{"rows", "columns"}[i], l.Kernel[0], l.Kernel[1])
				return nil
			}
			out[i] = (in[i]+lo+hi-k)/s + 1
			continue
		}
		if k > in[i] {
			what, hint := "kernel", `use padding="same" or remove a pooling layer before it`
			arg := "kernel_size"
			if l.Kind != KindConv2D {
				what, hint, arg = "pool", `remove this pooling layer or use padding="same"`, "pool_size"
			}
			c.errs.add(a.pos(arg), "%s %dx%d of %s is larger than its input %s; %s",
				what, l.Kernel[0], l.Kernel[1], l.Name, shapeString(in), hint)
			return nil
		}
		out[i] = (in[i]-k)/s + 1
	}
	if out.Size() > maxElems {
		c.errs.add(l.Pos, "%s output %s has more than %d elements", l.Name, shapeString(out), maxElems)
		return nil
	}
	return out
}

func conv2DParams(c *checker, l *Layer, a *args) {
	kh, kw, cin, cout := l.Kernel[0], l.Kernel[1], l.In[2], l.Filters
	l.Params = append(l.Params, Param{
		Name:      l.Name + "/kernel",
		Shape:     Shape{kh, kw, cin, cout},
		Trainable: l.Trainable,
		Init:      "glorot_uniform",
		FanIn:     satMul(satMul(kh, kw), cin),
		FanOut:    satMul(satMul(kh, kw), cout),
	})
	if l.UseBias {
		l.Params = append(l.Params, Param{Name: l.Name + "/bias", Shape: Shape{cout}, Trainable: l.Trainable, Init: "zeros"})
	}
	l.MACs = int64(satMul(satMul(satMul(l.Out[0], l.Out[1]), cout), l.Params[0].FanIn))
}

func resolveDense(c *checker, l *Layer, a *args) bool {
	ok := false
	if v := a.get("units"); v != nil {
		l.Units, ok = c.toInt(v, "Dense units", 1)
	}
	return resolveActivation(c, l, a) && ok
}

func denseShape(c *checker, l *Layer, a *args) Shape {
	if len(l.In) != 1 {
		c.errs.add(l.Pos, "Dense expects a vector, got %s; insert Flatten() before it", shapeString(l.In))
		return nil
	}
	return Shape{l.Units}
}

func denseParams(c *checker, l *Layer, a *args) {
	in := l.In[0]
	l.Params = append(l.Params, Param{
		Name:      l.Name + "/kernel",
		Shape:     Shape{in, l.Units},
		Trainable: l.Trainable,
		Init:      "glorot_uniform",
		FanIn:     in,
		FanOut:    l.Units,
	})
	if l.UseBias {
		l.Params = append(l.Params, Param{Name: l.Name + "/bias", Shape: Shape{l.Units}, Trainable: l.Trainable, Init: "zeros"})
	}
	l.MACs = int64(satMul(in, l.Units))
}

func resolveDropout(c *checker, l *Layer, a *args) bool {
	v := a.get("rate")
	if v == nil {
		return false
	}
	r, ok := c.toFloat(v, "Dropout rate")
	// The rate is used in float32, where 0.99999999 is 1.
	if ok && r < 1 && float32(r) >= 1 {
		c.errs.add(v.pos, "Dropout rate %s rounds to 1 in float32, in which convc computes, and would drop everything; use a rate below 0.9999999", c.text(v))
		return false
	}
	if ok && (r < 0 || r >= 1) {
		c.errs.add(v.pos, "Dropout rate must be in [0, 1), got %s", c.text(v))
		return false
	}
	l.Rate = r
	return ok
}

// preprocessModes are the modes of keras.applications' preprocess_input.
var preprocessModes = []string{"caffe", "torch", "tf"}

func resolvePreprocess(c *checker, l *Layer, a *args) bool {
	l.Mode = "caffe"
	if v := a.get("mode"); v != nil {
		m, ok := c.toEnum(v, "PreprocessInput mode", preprocessModes)
		l.Mode = m
		return ok
	}
	return true
}

func resolveRescaling(c *checker, l *Layer, a *args) bool {
	ok := false
	if v := a.get("scale"); v != nil {
		l.Scale, ok = c.toFloat(v, "Rescaling scale")
	}
	if v := a.get("offset"); v != nil {
		off, good := c.toFloat(v, "Rescaling offset")
		l.Offset, ok = off, ok && good
	}
	return ok
}

func resolveRandomFlip(c *checker, l *Layer, a *args) bool {
	l.FlipMode = "horizontal_and_vertical"
	if v := a.get("mode"); v != nil {
		m, ok := c.toEnum(v, "RandomFlip mode", flipModes)
		l.FlipMode = m
		return ok
	}
	return true
}

func resolveFill(c *checker, l *Layer, a *args) bool {
	ok := true
	l.FillMode, l.Interpolation = "reflect", "bilinear"
	if v := a.get("fill_mode"); v != nil {
		m, good := c.toEnum(v, "fill_mode", fillModes)
		l.FillMode, ok = m, good
	}
	if v := a.get("interpolation"); v != nil {
		m, good := c.toEnum(v, "interpolation", interpolations)
		l.Interpolation, ok = m, ok && good
	}
	return ok
}

func resolveRandomRotation(c *checker, l *Layer, a *args) bool {
	ok := false
	if v := a.get("factor"); v != nil {
		l.Factor, ok = c.toFactor(v, "RandomRotation factor")
	}
	return resolveFill(c, l, a) && ok
}

func resolveRandomZoom(c *checker, l *Layer, a *args) bool {
	ok := false
	if v := a.get("height_factor"); v != nil {
		l.Factor, ok = c.toFactor(v, "RandomZoom height_factor")
		if ok && l.Factor[0] < -1 {
			c.errs.add(v.pos, "RandomZoom height_factor must not go below -1 (zooming in by 100%%), got %s", c.text(v))
			ok = false
		}
	}
	l.WidthFactor = l.Factor
	if v := a.get("width_factor"); v != nil && v.kind != vNone {
		f, good := c.toFactor(v, "RandomZoom width_factor")
		if good && f[0] < -1 {
			c.errs.add(v.pos, "RandomZoom width_factor must not go below -1 (zooming in by 100%%), got %s", c.text(v))
			good = false
		}
		l.WidthFactor, ok = f, ok && good
	}
	return resolveFill(c, l, a) && ok
}

func sameShape(c *checker, l *Layer, a *args) Shape { return l.In }

// shapeString formats a shape as in messages: (13, 13, 32) or (1152).
func shapeString(s Shape) string {
	var b strings.Builder
	b.WriteByte('(')
	for i, d := range s {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, d)
	}
	b.WriteByte(')')
	return b.String()
}

// satMul multiplies non-negative ints, saturating instead of overflowing.
func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}
