package codegen

import (
	"fmt"

	"github.com/convc/convc/dsl"
	"github.com/convc/convc/runtime"
)

// RuntimeSpec converts a checked model into the runtime's description of
// it. Generated packages carry it as a literal; tools that run a spec
// without generating code (the reference interpreter, parity tests) use it
// directly.
func RuntimeSpec(m *dsl.Model, specPath string) *runtime.Spec {
	if specPath == "" {
		specPath = m.File
	}
	s := &runtime.Spec{
		Name: m.Name, File: specPath, Hash: m.Hash,
		Loss: m.Loss(), InferenceOnly: !m.HasCompile,
		Optimizer: runtime.Optimizer{
			Name:         m.Compile.Optimizer.Name,
			LearningRate: float32(m.Compile.Optimizer.LearningRate),
			Rho:          float32(m.Compile.Optimizer.Rho),
			Momentum:     float32(m.Compile.Optimizer.Momentum),
			Epsilon:      float32(m.Compile.Optimizer.Epsilon),
			Beta1:        float32(m.Compile.Optimizer.Beta1),
			Beta2:        float32(m.Compile.Optimizer.Beta2),
		},
		Data: m.Fit.Data.Kind, DataPath: m.Fit.Data.Path, ImageSize: m.Fit.Data.ImageSize, ColorMode: m.Fit.Data.ColorMode,
		Epochs: m.Fit.Epochs, BatchSize: m.Fit.BatchSize, ValidationSplit: float32(m.Fit.ValidationSplit), Seed: m.Fit.Seed,
		Summary: dsl.Summary(m, false),
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		rl := runtime.Layer{
			Kind: string(l.Kind), Name: l.Name,
			In: append([]int(nil), l.In...), Out: append([]int(nil), l.Out...),
			Filters: l.Filters, Units: l.Units,
			KH: l.Kernel[0], KW: l.Kernel[1], SH: l.Strides[0], SW: l.Strides[1],
			PadTop: l.Pad[0], PadLeft: l.Pad[2], CountIncludePad: l.CountIncludePad,
			Trainable: l.Trainable,
			Rate:      float32(l.Rate),
		}
		switch l.Kind {
		case dsl.KindConv2D, dsl.KindDense:
			rl.Activation, rl.UseBias = l.Activation, l.UseBias
		case dsl.KindPreprocessInput:
			rl.Mode = l.Mode
		case dsl.KindRescaling:
			rl.Scale, rl.Offset = float32(l.Scale), float32(l.Offset)
		case dsl.KindRandomFlip:
			rl.FlipH, rl.FlipV = l.FlipMode != "vertical", l.FlipMode != "horizontal"
		case dsl.KindRandomRotation, dsl.KindRandomZoom:
			rl.Factor = [2]float32{float32(l.Factor[0]), float32(l.Factor[1])}
			if l.Kind == dsl.KindRandomZoom {
				rl.WidthFactor = [2]float32{float32(l.WidthFactor[0]), float32(l.WidthFactor[1])}
			}
			rl.FillMode, rl.Interpolation = l.FillMode, l.Interpolation
		}
		s.Layers = append(s.Layers, rl)
	}
	for _, p := range m.Params() {
		s.Params = append(s.Params, runtime.ParamSpec{
			Name: p.Name, Shape: append([]int(nil), p.Shape...), Trainable: p.Trainable,
			Init: p.Init, FanIn: p.FanIn, FanOut: p.FanOut,
		})
	}
	for _, p := range m.Pretrained {
		rp := runtime.Pretrained{Group: p.Group, Arch: p.Arch, Weights: p.Weights, Source: fmt.Sprintf("%s:%d:%d", specPath, p.Pos.Line, p.Pos.Col)}
		for i := range m.Layers {
			l := &m.Layers[i]
			if l.Group == p.Group {
				for _, q := range l.Params {
					rp.Params = append(rp.Params, q.Name)
				}
			} else if len(rp.Params) == 0 && l.Kind == dsl.KindPreprocessInput {
				rp.Preprocess = l.Mode
			}
		}
		s.Pretrained = append(s.Pretrained, rp)
	}
	for _, c := range m.Fit.Callbacks {
		s.Callbacks = append(s.Callbacks, runtime.Callback{Kind: c.Kind, Path: c.Path, Monitor: c.Monitor, SaveBestOnly: c.SaveBestOnly, Patience: c.Patience})
	}
	return s
}
