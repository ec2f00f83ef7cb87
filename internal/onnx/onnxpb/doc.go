// Package onnxpb holds the Go bindings of ONNX's protobuf schema, for
// convc's ONNX import and export (issue 15). onnx.proto is the schema of
// ONNX 1.12.0 as Debian's python3-onnx (1.12.0-2) ships it
// (/usr/lib/python3/dist-packages/onnx/onnx.proto), under the Apache
// License 2.0 (LICENSE; the file's SPDX header). onnx.pb.go is generated
// from it by protoc 3.21.12 and protoc-gen-go v1.36.12:
//
//	apt-get install protobuf-compiler python3-onnx
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	protoc --go_out=. --go_opt=paths=source_relative \
//	    --go_opt=Monnx.proto=github.com/convc/convc/internal/onnx/onnxpb onnx.proto
//
// Only convc's commands use it: the generated trainers do not import it.
package onnxpb
