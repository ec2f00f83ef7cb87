package dsl

import (
	"fmt"
	"strings"
)

// This file holds the applications: calls such as VGG16(...) that stand
// for a whole pretrained network, as keras.applications.vgg16.VGG16 does.
// The checker expands one into its layers, with Keras's names, so codegen,
// the runtime and the PyTorch target see ordinary Conv2D, MaxPooling2D and
// Dense layers. Each expanded layer carries the application's name in
// Layer.Group, which the summary folds into one "(Functional)" row.

// Pretrained is an application whose weights come from a file: the
// weights= argument of VGG16.
type Pretrained struct {
	// Group is the application's name ("vgg16"); its parameters are those
	// of the layers whose Group it is.
	Group string
	// Arch is the architecture, "vgg16" with include_top=False and
	// "vgg16_top" with it.
	Arch string
	// Weights is "imagenet" or the path of a safetensors file in convc's
	// names and layouts, as written by convc weights.
	Weights string
	Pos     Pos
}

// vgg16Blocks lists VGG16's convolution blocks: filters and convolutions.
var vgg16Blocks = [5][2]int{{64, 2}, {128, 2}, {256, 3}, {512, 3}, {512, 3}}

var vgg16Args = []argSpec{
	{name: "include_top", def: "True"},
	{name: "weights", def: `"imagenet"`},
	{name: "input_tensor", def: "None"},
	{name: "input_shape", def: "None"},
	{name: "pooling", def: "None"},
	{name: "classes", def: "1000"},
	{name: "classifier_activation", def: `"softmax"`},
	{name: "name", def: `"vgg16"`},
	{name: "trainable", def: "True"},
	{name: "trainable_from", def: "None"},
}

const vgg16Example = `VGG16(include_top=False, weights="imagenet")`

// application reports whether name is an application call.
func application(name string) bool { return name == "VGG16" }

// vgg16 checks a VGG16 call whose input is in (nil when unknown) and
// returns its layers, or nil after reporting errors.
//
// As the first layer of a model, VGG16 needs input_shape=, and its layers
// then start with the Input it makes, as keras.applications' VGG16 model
// does (conv_base.summary() lists input_1).
func (c *checker) vgg16(call *Call, in Shape, first bool, counters map[string]int, names map[string]Pos) ([]Layer, *Pretrained) {
	pos := c.pos(call.Pos)
	a := c.bind(call, "VGG16", vgg16Args, 0, vgg16Example)
	ok := true
	top := true
	if v := a.get("include_top"); v != nil {
		top, ok = c.toBool(v, "VGG16 include_top")
	}
	pre := &Pretrained{Group: "vgg16", Arch: "vgg16", Weights: "imagenet", Pos: pos}
	if v := a.get("weights"); v != nil {
		switch {
		case v.kind == vNone:
			pre = nil
		case v.kind != vString:
			c.typeErr(v, "VGG16 weights", `"imagenet", None or the path of a .safetensors file`)
			ok = false
		case v.s == "":
			c.errs.add(v.pos, `VGG16 weights is empty; use "imagenet", None or the path of a .safetensors file`)
			ok = false
		case v.s != "imagenet" && !strings.HasSuffix(v.s, ".safetensors"):
			c.errs.add(v.pos, `VGG16 weights %s is not "imagenet", None or a .safetensors file; convert other files with convc weights`, c.text(v))
			ok = false
		default:
			pre.Weights = v.s
		}
	}
	if v := a.get("input_tensor"); v != nil && v.kind != vNone {
		c.errs.add(v.pos, "VGG16 input_tensor is not supported: the model's Input feeds VGG16; remove the argument")
		ok = false
	}
	if v := a.get("pooling"); v != nil && v.kind != vNone {
		c.errs.add(v.pos, "VGG16 pooling=%s is not supported; leave it None and add the layers after VGG16 (Flatten() as in listing 8.24)", c.text(v))
		ok = false
	}
	classes := 1000
	if v := a.get("classes"); v != nil {
		n, good := c.toInt(v, "VGG16 classes", 1)
		classes, ok = n, ok && good
		if !top && v.kind == vInt && v.i != 1000 {
			c.errs.add(v.pos, "VGG16 classes applies only with include_top=True; remove it")
			ok = false
		}
		if pre != nil && top && classes != 1000 {
			c.errs.add(v.pos, `VGG16 with weights and include_top=True has 1000 classes, as ImageNet; use weights=None to train %d classes, or include_top=False and your own head`, classes)
			ok = false
		}
	}
	act := "softmax"
	if v := a.get("classifier_activation"); v != nil {
		if v.kind == vNone {
			act = "linear"
		} else {
			var good bool
			act, good = c.toEnum(v, "activation", activations)
			ok = ok && good
		}
	}
	group := "vgg16"
	if v := a.get("name"); v != nil && v.kind != vNone {
		switch {
		case v.kind != vString:
			c.typeErr(v, "VGG16 name", "a string")
			ok = false
		case !isIdent(v.s):
			c.errs.add(v.pos, "VGG16 name %s is not a valid identifier; use letters, digits and underscores, not starting with a digit", c.text(v))
			ok = false
		default:
			group = v.s
		}
	}
	trainable := true
	if v := a.get("trainable"); v != nil {
		var good bool
		trainable, good = c.toBool(v, "VGG16 trainable")
		ok = ok && good
	}
	from := ""
	fromPos := pos
	if v := a.get("trainable_from"); v != nil && v.kind != vNone {
		switch {
		case v.kind != vString:
			c.typeErr(v, "VGG16 trainable_from", `a layer name such as "block5_conv1"`)
			ok = false
		case !trainable:
			c.errs.add(v.pos, "VGG16 trainable_from with trainable=False leaves nothing trainable; remove one of them")
			ok = false
		default:
			from, fromPos = v.s, v.pos
		}
	}
	var input *Layer
	if v := a.get("input_shape"); v != nil && v.kind != vNone && (in != nil || first) {
		want, good := c.toShape(v)
		if good && len(want) != 3 {
			c.typeErr(v, "VGG16 input_shape", "a (height, width, channels) tuple")
			good = false
		}
		switch {
		case good && first:
			in = want
			input = &Layer{Kind: KindInput, Name: defaultName(layerDefs["Input"], counters), Pos: pos,
				Source: "Input(shape=" + c.text(v) + ")", Out: want, Trainable: true}
		case good && shapeString(want) != shapeString(in):
			c.errs.add(v.pos, "VGG16 input_shape %s differs from its input %s; remove input_shape, the model's Input sets it", shapeString(want), shapeString(in))
			ok = false
		}
	} else if first {
		c.errs.add(pos, "the model must start with Input, as in Input(shape=(180, 180, 3)), or VGG16 must give input_shape=(180, 180, 3)")
		ok = false
	}
	if !ok || in == nil {
		return nil, nil
	}
	if pre != nil {
		pre.Group = group
		if top {
			pre.Arch = "vgg16_top"
		}
	}

	// Keras's obtain_input_shape: an image of 3 channels for the ImageNet
	// weights, at least 32x32, and exactly 224x224x3 with the top and
	// the weights.
	switch {
	case len(in) != 3:
		c.errs.add(pos, "VGG16 expects an image (height, width, channels), got %s; it must come before Flatten()", shapeString(in))
		return nil, nil
	case pre != nil && top && shapeString(in) != "(224, 224, 3)":
		c.errs.add(pos, "VGG16 with include_top=True and weights takes (224, 224, 3) images, got %s; use include_top=False for other sizes, as listing 8.19 does", shapeString(in))
		return nil, nil
	case pre != nil && in[2] != 3:
		c.errs.add(pos, "VGG16 with ImageNet weights takes 3 channels, got %s; load RGB images (color_mode=\"rgb\") or use weights=None", shapeString(in))
		return nil, nil
	case in[0] < 32 || in[1] < 32:
		c.errs.add(pos, "VGG16 takes images of at least 32x32, got %s; resize the input (image_size=(180, 180) as in the book)", shapeString(in))
		return nil, nil
	}

	src := c.source(call.Pos, call.EndPos)
	var ls []Layer
	add := func(l Layer) {
		l.Pos, l.Source, l.Group, l.Trainable = pos, src, group, trainable
		if prev, dup := names[l.Name]; dup {
			c.errs.add(pos, "VGG16's layer %s has the name of the layer at %s; rename that layer", l.Name, c.posString(prev))
			ok = false
		}
		names[l.Name] = pos
		ls = append(ls, l)
	}
	for b, blk := range vgg16Blocks {
		for j := range blk[1] {
			add(Layer{Kind: KindConv2D, Name: fmt.Sprintf("block%d_conv%d", b+1, j+1), Filters: blk[0],
				Kernel: [2]int{3, 3}, Strides: [2]int{1, 1}, Padding: "same", Activation: "relu", UseBias: true})
		}
		add(Layer{Kind: KindMaxPooling2D, Name: fmt.Sprintf("block%d_pool", b+1), Kernel: [2]int{2, 2}, Strides: [2]int{2, 2}, Padding: "valid"})
	}
	if top {
		add(Layer{Kind: KindFlatten, Name: defaultName(layerDefs["Flatten"], counters)})
		add(Layer{Kind: KindDense, Name: "fc1", Units: 4096, Activation: "relu", UseBias: true})
		add(Layer{Kind: KindDense, Name: "fc2", Units: 4096, Activation: "relu", UseBias: true})
		add(Layer{Kind: KindDense, Name: "predictions", Units: classes, Activation: act, UseBias: true})
	}
	if from != "" {
		k := -1
		var all []string
		for i := range ls {
			all = append(all, ls[i].Name)
			if ls[i].Name == from {
				k = i
			}
		}
		if k < 0 {
			c.errs.add(fromPos, "VGG16 has no layer %s%s", c.clip(from), didYouMean(from, all, true))
			return nil, nil
		}
		for i := range k {
			ls[i].Trainable = false
		}
	}
	if !ok {
		return nil, nil
	}
	if input != nil {
		ls = append([]Layer{*input}, ls...)
	}
	// Shapes and parameters, by the ordinary layers' rules.
	for i := range ls {
		l := &ls[i]
		if l.Kind == KindInput {
			continue
		}
		l.In = in
		def := layerDefs[map[Kind]string{KindConv2D: "Conv2D", KindMaxPooling2D: "MaxPooling2D", KindFlatten: "Flatten", KindDense: "Dense"}[l.Kind]]
		l.Out = def.shape(c, l, &args{callPos: pos})
		if l.Out == nil {
			c.errs.add(pos, "VGG16 cannot run on %s: %s has no output; give the model a larger input", shapeString(ls[0].In), l.Name)
			return nil, nil
		}
		if def.params != nil {
			def.params(c, l, &args{callPos: pos})
		}
		in = l.Out
	}
	return ls, pre
}
