//go:build !goexperiment.simd || !amd64

package bigbench

// FMACeiling is 0 without the SIMD build: the table then shows no share of
// the ceiling.
func FMACeiling() float64 { return 0 }
