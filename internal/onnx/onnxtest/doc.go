// Package onnxtest runs imported ONNX models through the Go code convc
// generates for them, for the end-to-end tests of convc import. Building
// one program per model would take minutes, so Run generates every
// model's package into one temporary module and builds one program that
// runs them all. It also reads ONNX's serialized test tensors and converts
// between ONNX's NCHW layout and convc's HWC one.
//
// It builds with package convc, which imports the importer (package onnx):
// tests of package onnx_test can use it, those of package onnx cannot.
package onnxtest
