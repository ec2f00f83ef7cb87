// Package dsl parses convc's .cnn spec language and checks it. The parser
// produces a syntax tree with a position on every node; the checker
// resolves Keras defaults, infers shapes, counts parameters and reports
// every error as file:line:col: message. Its result, Model, is the only
// thing the backends see.
package dsl
