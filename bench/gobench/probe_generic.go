//go:build !goexperiment.simd || !amd64

package main

func simdEnabled() bool { return false }

// fmaProbe measures the scalar multiply-add ceiling when SIMD is not built.
func fmaProbe(workers int) float64 { return scalarProbe(workers) }
