package runtime

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Pretrained is an application of a spec (VGG16) whose weights the trainer
// loads before it trains: from the file its weights= argument names, or,
// for weights="imagenet", from the file that convc weights writes.
type Pretrained struct {
	// Group is the application's name in the spec ("vgg16").
	Group string
	// Arch is "vgg16" (without the top) or "vgg16_top".
	Arch string
	// Weights is "imagenet" or the path of a safetensors file.
	Weights string
	// Source is the spec position of the call, file:line:col.
	Source string
	// Params are the names of the application's parameters.
	Params []string
	// Preprocess is the mode of the PreprocessInput layer before the
	// application, or "" when there is none.
	Preprocess string
}

// WeightsDir returns the folder where weights="imagenet" is looked up:
// $CONVC_WEIGHTS, or .convc/weights in the home folder.
func WeightsDir() (string, error) {
	if d := os.Getenv("CONVC_WEIGHTS"); d != "" {
		return d, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot find the folder of ImageNet weights: %v; set CONVC_WEIGHTS", err)
	}
	return filepath.Join(home, ".convc", "weights"), nil
}

// ImageNetFile returns the file name of an architecture's ImageNet weights
// in WeightsDir: vgg16_imagenet_notop.safetensors for "vgg16" and
// vgg16_imagenet.safetensors for "vgg16_top".
func ImageNetFile(arch string) string {
	if base, ok := strings.CutSuffix(arch, "_top"); ok {
		return base + "_imagenet.safetensors"
	}
	return arch + "_imagenet_notop.safetensors"
}

// Path returns the file that holds the application's weights.
func (p *Pretrained) Path() (string, error) {
	if p.Weights != "imagenet" {
		return p.Weights, nil
	}
	dir, err := WeightsDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, ImageNetFile(p.Arch)), nil
}

// LoadPretrained sets the parameters of every pretrained application of
// the network from its weights file, except those for which skip is true
// (the ones another file, such as -init, already set). It returns one line
// per file it read. A missing file, a missing or misshapen tensor, or
// weights made for another preprocessing is an error that says what to
// do; on error no parameter of that application is changed.
func LoadPretrained(net Net, skip map[string]bool) ([]string, error) {
	spec := net.Spec()
	params := net.Params()
	var report []string
	for _, p := range spec.Pretrained {
		var need []string
		for _, name := range p.Params {
			if !skip[name] {
				need = append(need, name)
			}
		}
		if len(need) == 0 {
			continue
		}
		path, err := p.Path()
		if err != nil {
			return report, err
		}
		ts, meta, err := ReadSafetensors(path)
		if errors.Is(err, fs.ErrNotExist) {
			how := "convert torchvision's VGG16 weights with \"convc weights FILE\" (README, section 8.3)"
			if p.Weights != "imagenet" {
				how = "check the path (it is relative to the working folder) or convert the weights with \"convc weights FILE -o " + path + "\""
			}
			return report, fmt.Errorf("%s: %s(weights=%q) needs its weights in %s, which does not exist: %s; or pass -init with weights of this model, or write weights=None to start from random weights", p.Source, strings.ToUpper(strings.TrimSuffix(p.Arch, "_top")), p.Weights, path, how)
		}
		if err == nil {
			err = CheckFinite(path, ts)
		}
		if err != nil {
			return report, err
		}
		if mode := meta["preprocess"]; mode != "" && mode != p.Preprocess {
			have := "no PreprocessInput layer"
			if p.Preprocess != "" {
				have = fmt.Sprintf("PreprocessInput(mode=%q)", p.Preprocess)
			}
			return report, fmt.Errorf("%s: the weights in %s expect PreprocessInput(mode=%q) before %s, and the spec has %s; change the spec, or its outputs will be wrong", p.Source, path, mode, p.Group, have)
		}
		byName := map[string]*NamedTensor{}
		for i := range ts {
			byName[ts[i].Name] = &ts[i]
		}
		var problems []string
		idx := map[string]int{}
		for i, sp := range spec.Params {
			idx[sp.Name] = i
		}
		for _, name := range need {
			t, ok := byName[name]
			want := spec.Params[idx[name]].Shape
			switch {
			case !ok:
				problems = append(problems, fmt.Sprintf("missing tensor %s %s", name, shapeStr(want)))
			case !slices.Equal(t.Shape, want):
				problems = append(problems, fmt.Sprintf("tensor %s has shape %s, the model needs %s", name, shapeStr(t.Shape), shapeStr(want)))
			}
		}
		if len(problems) > 0 {
			return report, fmt.Errorf("%s: %s does not hold the weights of %s:\n\t%s", p.Source, path, p.Group, strings.Join(problems, "\n\t"))
		}
		for _, name := range need {
			copy(params[idx[name]], byName[name].Data)
		}
		report = append(report, fmt.Sprintf("Loaded %d tensors of %s from %s", len(need), p.Group, path))
	}
	return report, nil
}
