// Package codegen turns a checked model (dsl.Model) into Go: a package
// whose kernels are specialized to that one network, with every shape,
// stride and loop bound a constant, and a trainer main package that links
// convc's runtime. It never sees the parser's syntax tree.
package codegen
