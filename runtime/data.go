package runtime

import (
	"fmt"
	"io"
	"slices"
)

// loadData returns the training, validation and test sources of the
// spec's data set; val is nil when the data set has no validation part (a
// validation split is then taken from train). d.dir overrides the data
// set's folder; warnings go to warn.
func loadData(spec *Spec, d *dataFlags, warn io.Writer) (train, val, test Source, err error) {
	dir := d.dir
	switch spec.Data {
	case "mnist", "":
		if dir == "" {
			if dir, err = MNISTDir(); err != nil {
				return nil, nil, nil, err
			}
		}
		tr, te, err := LoadMNIST(dir)
		if err != nil {
			return nil, nil, nil, err
		}
		a, err := NewIDXSource(spec, tr, dir)
		if err != nil {
			return nil, nil, nil, err
		}
		b, err := NewIDXSource(spec, te, dir)
		if err != nil {
			return nil, nil, nil, err
		}
		return a, nil, b, nil
	case "image_directory":
		if dir == "" {
			dir = spec.DataPath
		}
		tr, va, te, err := LoadImageDirectory(spec, dir, ImageDirOptions{SkipBad: d.skipBad, Warn: warn})
		if err != nil {
			return nil, nil, nil, err
		}
		if va != nil {
			// A nil *ImageSource in a Source would not compare equal to nil.
			val = va
		}
		return tr, val, te, nil
	default:
		return nil, nil, nil, fmt.Errorf("the %s data source is not supported by this trainer yet", spec.Data)
	}
}

// IDXSource serves an IDX data set (MNIST and its relatives) to a trainer.
// Pixels stay uint8 in memory and are scaled to [0, 1] per sample, as
// listing 8-3 does with astype("float32") / 255.
type IDXSource struct {
	ds     *Dataset
	size   int
	onehot int // number of classes for one-hot labels, 0 for sparse labels
}

// NewIDXSource checks that the data set fits the spec's input shape and
// that every label is a valid class of its output, and returns a source.
// dir names the data set in errors.
func NewIDXSource(spec *Spec, ds *Dataset, dir string) (*IDXSource, error) {
	in := spec.Layers[0].Out
	if !slices.Equal(in, []int{ds.H, ds.W, ds.C}) {
		return nil, fmt.Errorf("%s: images are %dx%dx%d, the %s model takes %s", dir, ds.H, ds.W, ds.C, spec.Name, shapeStr(in))
	}
	classes := spec.OutputSize()
	if spec.Loss == "binary_crossentropy" {
		classes = 2
	}
	for i, l := range ds.Labels {
		if int(l) >= classes {
			return nil, fmt.Errorf("%s: label %d of sample %d is out of range: the %s model has %d classes", dir, l, i, spec.Name, classes)
		}
	}
	s := &IDXSource{ds: ds, size: ds.H * ds.W * ds.C}
	if spec.Loss == "categorical_crossentropy" {
		s.onehot = spec.OutputSize()
	}
	return s, nil
}

// Len returns the number of samples.
func (s *IDXSource) Len() int { return s.ds.N }

// Sample writes sample i scaled to [0, 1] and its label.
func (s *IDXSource) Sample(i int, x, y []float32) {
	px := s.ds.Pixels[i*s.size : (i+1)*s.size]
	x = x[:len(px)]
	for j, p := range px {
		x[j] = float32(p) / 255
	}
	if s.onehot > 0 {
		clear(y[:s.onehot])
		y[s.ds.Labels[i]] = 1
		return
	}
	y[0] = float32(s.ds.Labels[i])
}
