// Package convert turns published pretrained weights into convc's tensor
// names and layouts, so that a spec's application layer (VGG16) can load
// them. It maps by architecture: it knows which tensor of the source feeds
// which layer, checks every name and shape, and reports what it used and
// what it left.
package convert

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/convc/convc/runtime"
)

// Report says what a conversion did, one line per tensor.
type Report struct {
	// Mapped lists "source -> convc name" for every tensor written.
	Mapped []string
	// Left lists the source tensors that were not used.
	Left []string
}

// vgg16Convs are the 13 convolutions of VGG16, in order, with their
// channels in and out.
var vgg16Convs = func() (cs []struct {
	name    string
	cin, co int
}) {
	cin := 3
	for b, blk := range [5][2]int{{64, 2}, {128, 2}, {256, 3}, {512, 3}, {512, 3}} {
		for j := range blk[1] {
			cs = append(cs, struct {
				name    string
				cin, co int
			}{fmt.Sprintf("block%d_conv%d", b+1, j+1), cin, blk[0]})
			cin = blk[0]
		}
	}
	return cs
}()

// VGG16 converts the state dict of torchvision's vgg16 (features.N.weight
// in OIHW, classifier.N.weight as (out, in)), or of timm's vgg16 (the same
// features, pre_logits.fc1 and fc2 as convolutions, head.fc), into convc's
// names and layouts: block1_conv1/kernel in HWIO, fc1/kernel as (in, out)
// with its inputs in Flatten's (height, width, channels) order. With top,
// it also converts the classifier, which the source must then have.
//
// These weights expect PreprocessInput(mode="torch").
func VGG16(src []runtime.NamedTensor, top bool) ([]runtime.NamedTensor, *Report, error) {
	byName := map[string]*runtime.NamedTensor{}
	for i := range src {
		byName[src[i].Name] = &src[i]
	}
	used := map[string]bool{}
	r := &Report{}
	var problems []string
	var out []runtime.NamedTensor

	// The convolutions are the 4-D features.N.weight tensors, in the
	// order of N.
	type feat struct {
		n    int
		name string
	}
	var feats []feat
	for _, t := range src {
		rest, ok := strings.CutPrefix(t.Name, "features.")
		if !ok {
			continue
		}
		num, kind, ok := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || kind != "weight" {
			continue
		}
		feats = append(feats, feat{n, "features." + num})
	}
	sort.Slice(feats, func(i, j int) bool { return feats[i].n < feats[j].n })
	if len(feats) != len(vgg16Convs) {
		var names []string
		for _, f := range feats {
			names = append(names, f.name+".weight")
		}
		return nil, nil, fmt.Errorf("VGG16 has 13 convolutions, and the file has %d features.N.weight tensors (%s); is it torchvision's or timm's vgg16 (not vgg16_bn or another VGG)?", len(feats), strings.Join(names, ", "))
	}
	take := func(name string, shape ...int) *runtime.NamedTensor {
		t, ok := byName[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("missing tensor %s %v", name, shape))
			return nil
		}
		used[name] = true
		if fmt.Sprint(t.Shape) != fmt.Sprint(shape) {
			problems = append(problems, fmt.Sprintf("tensor %s has shape %v, VGG16 needs %v", name, t.Shape, shape))
			return nil
		}
		return t
	}
	for i, c := range vgg16Convs {
		w := take(feats[i].name+".weight", c.co, c.cin, 3, 3)
		b := take(feats[i].name+".bias", c.co)
		if w == nil || b == nil {
			continue
		}
		k := make([]float32, len(w.Data))
		for o := range c.co {
			for ci := range c.cin {
				for y := range 3 {
					for x := range 3 {
						k[((y*3+x)*c.cin+ci)*c.co+o] = w.Data[((o*c.cin+ci)*3+y)*3+x]
					}
				}
			}
		}
		out = append(out,
			runtime.NamedTensor{Name: c.name + "/kernel", Shape: []int{3, 3, c.cin, c.co}, Data: k},
			runtime.NamedTensor{Name: c.name + "/bias", Shape: []int{c.co}, Data: append([]float32(nil), b.Data...)})
		r.Mapped = append(r.Mapped, w.Name+" -> "+c.name+"/kernel", b.Name+" -> "+c.name+"/bias")
	}

	if top {
		// torchvision: classifier.0, .3, .6; timm: pre_logits.fc1 (a 7x7
		// convolution), pre_logits.fc2 (1x1), head.fc.
		names := [3]string{"classifier.0", "classifier.3", "classifier.6"}
		if _, ok := byName["pre_logits.fc1.weight"]; ok {
			names = [3]string{"pre_logits.fc1", "pre_logits.fc2", "head.fc"}
		}
		timm := names[0] == "pre_logits.fc1"
		fc := func(src, dst string, in, outN int, spatial bool) {
			shape := []int{outN, in}
			if timm && dst == "fc1" {
				shape = []int{outN, 512, 7, 7}
			} else if timm && dst == "fc2" {
				shape = []int{outN, in, 1, 1}
			}
			w := take(src+".weight", shape...)
			b := take(src+".bias", outN)
			if w == nil || b == nil {
				return
			}
			channels := 0
			if spatial {
				channels = 512
			}
			k := denseKernel(w.Data, in, outN, channels)
			out = append(out,
				runtime.NamedTensor{Name: dst + "/kernel", Shape: []int{in, outN}, Data: k},
				runtime.NamedTensor{Name: dst + "/bias", Shape: []int{outN}, Data: append([]float32(nil), b.Data...)})
			r.Mapped = append(r.Mapped, w.Name+" -> "+dst+"/kernel", b.Name+" -> "+dst+"/bias")
		}
		fc(names[0], "fc1", 7*7*512, 4096, true)
		fc(names[1], "fc2", 4096, 4096, false)
		fc(names[2], "predictions", 4096, 1000, false)
	}
	for _, t := range src {
		if !used[t.Name] {
			r.Left = append(r.Left, fmt.Sprintf("%s %v", t.Name, t.Shape))
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("the file does not hold VGG16's weights:\n\t%s", strings.Join(problems, "\n\t"))
	}
	return out, r, nil
}

// denseKernel turns PyTorch's Linear weight w, (out, in), into a Dense
// kernel, (in, out). When channels > 0 the layer follows a flatten of a
// (channels, h, w) map in PyTorch and of an (h, w, channels) map in convc,
// so input j of convc, (h*W+w)*channels+c, is input c*H*W+h*W+w of
// PyTorch.
func denseKernel(w []float32, in, out, channels int) []float32 {
	k := make([]float32, in*out)
	hw := 1
	if channels > 0 {
		hw = in / channels
	}
	for o := range out {
		for j := range in {
			sj := j
			if channels > 0 {
				sj = (j%channels)*hw + j/channels
			}
			k[j*out+o] = w[o*in+sj]
		}
	}
	return k
}
