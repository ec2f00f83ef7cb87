package runtime

import "math"

// InitParams fills params (indexed like spec.Params) as Keras initializes
// them. A "glorot_uniform" parameter with index i draws its elements in
// order from NewRNG(Derive(seed, 1<<32 + uint64(i))) as
// (2*rng.Float32()-1)*limit, with limit = sqrt(6/(FanIn+FanOut)) rounded to
// float32; the offset 1<<32 keeps these streams apart from the per-layer
// streams of Forward. Every other parameter ("zeros", and any unknown
// initializer) is set to zero. Frozen parameters are initialized too.
func InitParams(spec *Spec, params [][]float32, seed uint64) {
	for i, p := range spec.Params {
		if i >= len(params) {
			return
		}
		w := params[i]
		if p.Init != "glorot_uniform" || p.FanIn+p.FanOut <= 0 {
			clear(w)
			continue
		}
		limit := GlorotLimit(p.FanIn, p.FanOut)
		rng := NewRNG(Derive(seed, 1<<32+uint64(i)))
		for j := range w {
			w[j] = float32((2*rng.Float32() - 1) * limit)
		}
	}
}

// GlorotLimit returns sqrt(6/(fanIn+fanOut)) rounded to float32, the bound
// of glorot_uniform.
func GlorotLimit(fanIn, fanOut int) float32 {
	return float32(math.Sqrt(6 / float64(fanIn+fanOut)))
}
