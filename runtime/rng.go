package runtime

import "math"

// RNG is a small, fast, seedable generator (SplitMix64). Every random
// choice of a run (initial weights, shuffling, dropout masks, augmentation)
// draws from an RNG derived from the run's seed, so a seed fixes the run.
type RNG struct{ state uint64 }

// NewRNG returns a generator seeded with seed.
func NewRNG(seed uint64) RNG { return RNG{state: seed} }

// Uint64 returns the next 64 random bits.
func (r *RNG) Uint64() uint64 {
	r.state += 0x9e3779b97f4a7c15
	z := r.state
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Float32 returns a uniform float32 in [0, 1).
func (r *RNG) Float32() float32 { return float32(r.Uint64()>>40) / (1 << 24) }

// Float64 returns a uniform float64 in [0, 1).
func (r *RNG) Float64() float64 { return float64(r.Uint64()>>11) / (1 << 53) }

// Intn returns a uniform int in [0, n). n must be positive.
func (r *RNG) Intn(n int) int {
	// Lemire's multiply-shift; the bias is below 2^-32 for the sizes used here.
	hi, _ := mul64(r.Uint64(), uint64(n))
	return int(hi)
}

// NormFloat64 returns a standard normal sample (Box-Muller).
func (r *RNG) NormFloat64() float64 {
	u1 := r.Float64()
	for u1 == 0 {
		u1 = r.Float64()
	}
	u2 := r.Float64()
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// Derive returns a seed for a sub-stream, mixing seed with the given
// indices (epoch, step, sample, ...), so that the stream of one sample does
// not depend on which worker draws it.
func Derive(seed uint64, idx ...uint64) uint64 {
	r := NewRNG(seed)
	s := r.Uint64()
	for _, i := range idx {
		r = NewRNG(s ^ (i * 0xd1b54a32d192ed03))
		s = r.Uint64()
	}
	return s
}

func mul64(a, b uint64) (hi, lo uint64) {
	const mask32 = 1<<32 - 1
	a0, a1 := a&mask32, a>>32
	b0, b1 := b&mask32, b>>32
	w0 := a0 * b0
	t := a1*b0 + w0>>32
	w1 := t & mask32
	w2 := t >> 32
	w1 += a0 * b1
	hi = a1*b1 + w2 + w1>>32
	lo = a * b
	return
}
