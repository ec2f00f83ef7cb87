// Package onnx brings models in and out of convc through ONNX (issue 15).
//
// Import (convc import) translates an ONNX graph that is a chain of
// Conv, MaxPool, AveragePool, Relu, Sigmoid, Tanh, Softmax, Flatten or
// Reshape, Gemm or MatMul, Dropout, zero Pad, the Transposes between NCHW
// and NHWC and constant arithmetic into a convc spec and its weights in
// convc's names and HWC layouts; it refuses any other graph, listing every
// node it cannot translate with what would be needed. Export (convc build
// -target onnx) writes a checked model and its weights as an ONNX graph
// with the model's NHWC input and output.
//
// Only convc's commands use this package: generated trainers do not
// import it.
package onnx
