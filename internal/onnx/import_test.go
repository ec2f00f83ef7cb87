package onnx

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/convc/convc/codegen"
	"github.com/convc/convc/dsl"
	"github.com/convc/convc/internal/onnx/onnxpb"
	"github.com/convc/convc/runtime"
)

var impUpdate = flag.Bool("update", false, "rewrite the testdata/import/*.txtar goldens")

// tGraph builds a small ONNX model in Go.
type tGraph struct {
	m    *onnxpb.ModelProto
	g    *onnxpb.GraphProto
	next int
}

// tModel starts a model with one float input; a dimension of -1 is the
// symbolic batch "N".
func tModel(opset int64, input string, dims ...int64) *tGraph {
	g := &onnxpb.GraphProto{Name: proto.String("test")}
	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(8),
		ProducerName:    proto.String("convc-test"),
		ProducerVersion: proto.String("1"),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(opset)}},
		Graph:           g,
	}
	g.Input = append(g.Input, tValueInfo(input, onnxpb.TensorProto_FLOAT, dims...))
	return &tGraph{m: m, g: g}
}

func tValueInfo(name string, dt onnxpb.TensorProto_DataType, dims ...int64) *onnxpb.ValueInfoProto {
	var ds []*onnxpb.TensorShapeProto_Dimension
	for _, d := range dims {
		if d < 0 {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}})
		} else {
			ds = append(ds, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
		}
	}
	return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
		ElemType: proto.Int32(int32(dt)), Shape: &onnxpb.TensorShapeProto{Dim: ds}}}}}
}

// tValues returns n distinct deterministic values.
func tValues(n, seed int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.Round(math.Sin(float64(i*7+seed*13+1))*1000) / 1000)
	}
	return v
}

// init adds a float initializer; without values it gets tValues.
func (b *tGraph) init(name string, dims []int64, vals ...float32) string {
	n := 1
	for _, d := range dims {
		n *= int(d)
	}
	if vals == nil {
		b.next++
		vals = tValues(n, b.next)
	}
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
		DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: vals})
	return name
}

// initInts adds a 1-D int64 initializer.
func (b *tGraph) initInts(name string, vals ...int64) string {
	b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(vals))},
		DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: vals})
	return name
}

// node adds a node whose one output is named after it, and returns that
// name.
func (b *tGraph) node(op, name string, ins []string, attrs ...*onnxpb.AttributeProto) string {
	out := name + "_out"
	b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: ins, Output: []string{out}, Attribute: attrs})
	return out
}

// done names the graph's output and returns the model.
func (b *tGraph) done(out string) *onnxpb.ModelProto {
	b.g.Output = append(b.g.Output, &onnxpb.ValueInfoProto{Name: proto.String(out)})
	return b.m
}

func aInts(name string, v ...int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
}

func aInt(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
}

func aFloat(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
}

func aStr(name, v string) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
}

func aTensor(name string, t *onnxpb.TensorProto) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_TENSOR.Enum(), T: t}
}

// conv adds a Conv with cout filters of k x k over cin channels.
func (b *tGraph) conv(name, x string, cin, cout, k int64, bias bool, attrs ...*onnxpb.AttributeProto) string {
	ins := []string{x, b.init(name+".weight", []int64{cout, cin, k, k})}
	if bias {
		ins = append(ins, b.init(name+".bias", []int64{cout}))
	}
	return b.node("Conv", name, ins, attrs...)
}

// viewFlatten adds the nodes torch.onnx.export writes for
// x.view(x.size(0), -1).
func (b *tGraph) viewFlatten(x string) string {
	s := b.node("Shape", "Shape_10", []string{x})
	zero := b.node("Constant", "Constant_11", nil, aTensor("value", &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{0}}))
	g := b.node("Gather", "Gather_12", []string{s, zero}, aInt("axis", 0))
	u := b.node("Unsqueeze", "Unsqueeze_13", []string{g, b.initInts("axes0", 0)})
	minus := b.node("Constant", "Constant_14", nil, aTensor("value", &onnxpb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: []int64{-1}}))
	c := b.node("Concat", "Concat_15", []string{u, minus}, aInt("axis", 0))
	return b.node("Reshape", "Reshape_16", []string{x, c})
}

// impCases are the models of the golden tests, each built in Go.
var impCases = map[string]func() *onnxpb.ModelProto{
	// LeNet as torch.onnx.export writes it with x.view(x.size(0), -1).
	"lenet_torch": func() *onnxpb.ModelProto {
		b := tModel(13, "input.1", -1, 1, 28, 28)
		x := b.conv("Conv_0", "input.1", 1, 6, 5, true, aInts("pads", 2, 2, 2, 2), aInts("strides", 1, 1), aInts("dilations", 1, 1), aInt("group", 1), aInts("kernel_shape", 5, 5))
		x = b.node("Relu", "Relu_1", []string{x})
		x = b.node("MaxPool", "MaxPool_2", []string{x}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInts("pads", 0, 0, 0, 0), aInt("ceil_mode", 0))
		x = b.conv("Conv_3", x, 6, 16, 5, true)
		x = b.node("Relu", "Relu_4", []string{x})
		x = b.node("MaxPool", "MaxPool_5", []string{x}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2))
		x = b.viewFlatten(x)
		x = b.node("Gemm", "Gemm_17", []string{x, b.init("fc1.weight", []int64{120, 400}), b.init("fc1.bias", []int64{120})}, aFloat("alpha", 1), aFloat("beta", 1), aInt("transB", 1))
		x = b.node("Relu", "Relu_18", []string{x})
		x = b.node("Gemm", "Gemm_19", []string{x, b.init("fc2.weight", []int64{10, 120}), b.init("fc2.bias", []int64{10})}, aInt("transB", 1))
		x = b.node("Softmax", "Softmax_20", []string{x}, aInt("axis", 1))
		return b.done(x)
	},
	// Padding: "same" where it equals TensorFlow's, the explicit form
	// where it does not (PyTorch's padding=1 with stride 2 on an even
	// input, SAME_LOWER), auto_pad SAME_UPPER and VALID.
	"padding": func() *onnxpb.ModelProto {
		b := tModel(17, "x", 1, 3, 15, 16)
		x := b.conv("same_s2_odd_even", "x", 3, 4, 3, true, aInts("pads", 1, 1, 1, 1), aInts("strides", 2, 2)) // 8x8: rows same, columns not
		x = b.conv("same_upper", x, 4, 4, 3, false, aStr("auto_pad", "SAME_UPPER"), aInts("strides", 2, 2))    // 4x4
		x = b.conv("same_lower", x, 4, 4, 2, true, aStr("auto_pad", "SAME_LOWER"))                             // 4x4
		x = b.conv("torch_same", x, 4, 4, 3, true, aInts("pads", 1, 1, 1, 1))                                  // 4x4
		x = b.conv("valid", x, 4, 2, 2, true, aStr("auto_pad", "VALID"), aInts("strides", 1, 2))               // 3x2
		x = b.node("Flatten", "Flatten_5", []string{x}, aInt("axis", 1))
		x = b.node("Gemm", "Gemm_6", []string{x, b.init("W", []int64{12, 3})}, aInt("transB", 0))
		return b.done(x)
	},
	// Pools: ceil_mode on MaxPool as extra padding, count_include_pad,
	// and PyTorch's AvgPool2d(count_include_pad=True), which it exports
	// as Pad then AveragePool.
	"pools": func() *onnxpb.ModelProto {
		b := tModel(14, "x", -1, 2, 9, 9)
		x := b.conv("Conv_0", "x", 2, 3, 1, true)
		x = b.node("MaxPool", "ceil", []string{x}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("ceil_mode", 1)) // 5x5
		x = b.node("MaxPool", "ceil_nochange", []string{x}, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInt("ceil_mode", 1), aInts("pads", 1, 1, 1, 1))
		x = b.node("AveragePool", "include_pad", []string{x}, aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1), aInt("count_include_pad", 1))
		x = b.node("AveragePool", "exclude_pad_same", []string{x}, aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1))
		p := b.node("Pad", "Pad_5", []string{x, b.initInts("pads", 0, 0, 1, 0, 0, 0, 1, 2)}, aStr("mode", "constant"))
		x = b.node("AveragePool", "AveragePool_6", []string{p}, aInts("kernel_shape", 2, 3))
		x = b.node("Flatten", "Flatten_7", []string{x})
		x = b.node("MatMul", "MatMul_8", []string{x, b.init("W", []int64{36, 5})})
		return b.done(x)
	},
	// tf2onnx's NHWC graph: a Transpose to NCHW at the start, one back
	// to NHWC before the flatten (no reordering of the Dense kernel), a
	// BiasAdd after it, opset 13's Dropout with its ratio and training_mode
	// as inputs, and MatMul + Add.
	"nhwc_tf2onnx": func() *onnxpb.ModelProto {
		b := tModel(13, "input_1", -1, 6, 6, 3)
		x := b.node("Transpose", "transpose_in", []string{"input_1"}, aInts("perm", 0, 3, 1, 2))
		x = b.conv("conv2d", x, 3, 4, 3, true, aStr("auto_pad", "VALID"))
		x = b.node("Transpose", "transpose_out", []string{x}, aInts("perm", 0, 2, 3, 1))
		x = b.node("Add", "conv2d/BiasAdd", []string{x, b.init("conv2d/bias", []int64{4})})
		x = b.node("Relu", "conv2d/Relu", []string{x})
		x = b.node("Reshape", "flatten/Reshape", []string{x, b.initInts("shape", -1, 64)})
		ratio := b.init("ratio", nil, 0.125)
		b.g.Initializer = append(b.g.Initializer, &onnxpb.TensorProto{Name: proto.String("training"), DataType: proto.Int32(int32(onnxpb.TensorProto_BOOL)), RawData: []byte{0}})
		x = b.node("Dropout", "dropout/Dropout", []string{x, ratio, "training"})
		x = b.node("MatMul", "dense/MatMul", []string{x, b.init("dense/kernel", []int64{64, 10})})
		x = b.node("Add", "dense/BiasAdd", []string{x, b.init("dense/bias", []int64{10})})
		x = b.node("Softmax", "dense/Softmax", []string{x})
		return b.done(x)
	},
	// Activations after MaxPool, Flatten and Dropout move onto the layer
	// before them.
	"moved_activations": func() *onnxpb.ModelProto {
		b := tModel(11, "x", 1, 1, 8, 8)
		x := b.conv("Conv_0", "x", 1, 2, 3, true)
		x = b.node("MaxPool", "MaxPool_1", []string{x}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2))
		x = b.node("Tanh", "Tanh_2", []string{x})
		x = b.conv("Conv_3", x, 2, 2, 1, true)
		x = b.node("Flatten", "Flatten_4", []string{x})
		x = b.node("Sigmoid", "Sigmoid_5", []string{x})
		x = b.node("Gemm", "Gemm_6", []string{x, b.init("W", []int64{18, 4}), b.init("C", []int64{4})})
		x = b.node("Dropout", "Dropout_7", []string{x}, aFloat("ratio", 0.25))
		x = b.node("Relu", "Relu_8", []string{x})
		x = b.node("Relu", "Relu_9", []string{x})
		return b.done(x)
	},
	// Scalar arithmetic before the first Conv composes into one
	// Rescaling; per-channel arithmetic right after a Conv folds into its
	// bias and kernel.
	"arithmetic": func() *onnxpb.ModelProto {
		b := tModel(13, "x", -1, 3, 4, 4)
		x := b.node("Sub", "Sub_0", []string{"x", b.init("mean", []int64{1, 1, 1, 1}, 127.5)})
		x = b.node("Div", "Div_1", []string{x, b.init("std", []int64{1, 3, 1, 1}, 127.5, 127.5, 127.5)})
		x = b.node("Mul", "Mul_2", []string{b.init("two", nil, 2), x})
		x = b.conv("Conv_3", x, 3, 2, 1, false)
		x = b.node("Add", "Add_4", []string{x, b.init("shift", []int64{2, 1, 1}, 0.5, -0.5)})
		x = b.node("Mul", "Mul_5", []string{x, b.init("gain", []int64{1, 2, 1, 1}, 2, 4)})
		x = b.node("Relu", "Relu_6", []string{x})
		return b.done(x)
	},
	// An MLP on vectors in opset 7: Dropout's ratio as an attribute, Gemm
	// with alpha and beta, Identity.
	"mlp_opset7": func() *onnxpb.ModelProto {
		b := tModel(7, "x", 1, 20)
		x := b.node("MatMul", "MatMul_0", []string{"x", b.init("W1", []int64{20, 8})})
		x = b.node("Add", "Add_1", []string{b.init("b1", []int64{1, 8}), x})
		x = b.node("Relu", "Relu_2", []string{x})
		x = b.node("Dropout", "Dropout_3", []string{x}, aFloat("ratio", 0.3))
		x = b.node("Identity", "Identity_4", []string{x})
		x = b.node("Gemm", "Gemm_5", []string{x, b.init("W2", []int64{8, 1}), b.init("b2", []int64{1})}, aFloat("alpha", 2), aFloat("beta", 0.5))
		x = b.node("Sigmoid", "Sigmoid_6", []string{x})
		return b.done(x)
	},
	// Float64 and float16 weights are converted to float32, and the graph
	// may end in a Conv: the output is NCHW.
	"converted_conv_output": func() *onnxpb.ModelProto {
		b := tModel(13, "x", -1, 1, 5, 5)
		b.g.Initializer = append(b.g.Initializer,
			&onnxpb.TensorProto{Name: proto.String("W"), Dims: []int64{2, 1, 3, 3}, DataType: proto.Int32(int32(onnxpb.TensorProto_DOUBLE)), DoubleData: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
			// 0x3c00 is 1.0 and 0xc000 is -2.0 in half precision.
			&onnxpb.TensorProto{Name: proto.String("B"), Dims: []int64{2}, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT16)), RawData: []byte{0x00, 0x3c, 0x00, 0xc0}})
		x := b.node("Conv", "Conv_0", []string{"x", "W", "B"})
		x = b.node("Sigmoid", "Sigmoid_1", []string{x})
		return b.done(x)
	},
	// A graph of pools alone, as ONNX's node tests are, gets an identity
	// layer with weights; an AveragePool that does not count padding
	// takes ceil_mode as extra padding.
	"pools_only": func() *onnxpb.ModelProto {
		b := tModel(19, "x", 1, 3, 4, 4)
		x := b.node("AveragePool", "AveragePool_0", []string{"x"}, aInts("kernel_shape", 3, 3), aInts("strides", 2, 2), aInt("ceil_mode", 1))
		return b.done(x)
	},
	// A lone Softmax on vectors gets an identity Dense to carry it.
	"softmax_only": func() *onnxpb.ModelProto {
		b := tModel(13, "x", -1, 5)
		return b.done(b.node("Softmax", "Softmax_0", []string{"x"}))
	},
	// Arithmetic on a vector, a scalar or per element, folds into the
	// Gemm or MatMul after it.
	"vector_affine": func() *onnxpb.ModelProto {
		b := tModel(13, "x", -1, 2, 3, 3)
		x := b.conv("Conv_0", "x", 2, 2, 1, true)
		x = b.node("Relu", "Relu_1", []string{x})
		x = b.node("Flatten", "Flatten_2", []string{x})
		x = b.node("Mul", "Mul_3", []string{x, b.init("gain", []int64{1, 18})})
		x = b.node("Sub", "Sub_4", []string{x, b.init("shift", nil, 0.5)})
		x = b.node("MatMul", "MatMul_5", []string{x, b.init("W", []int64{18, 3})})
		return b.done(x)
	},
	// Every unsupported node is listed, in graph order, with what would
	// be needed.
	// Keras's GlobalAveragePooling2D as tf2onnx writes it, a ReduceMean
	// over the NHWC axes 1 and 2 (an attribute before opset 18), and a
	// ReduceMax with its axes as an input at opset 18 and keepdims
	// followed by a Squeeze of the 1x1 image.
	"reduce_nhwc": func() *onnxpb.ModelProto {
		b := tModel(13, "input_1", -1, 6, 6, 3)
		x := b.node("Transpose", "transpose_in", []string{"input_1"}, aInts("perm", 0, 3, 1, 2))
		x = b.conv("conv2d", x, 3, 4, 3, true, aStr("auto_pad", "VALID"))
		x = b.node("Transpose", "transpose_out", []string{x}, aInts("perm", 0, 2, 3, 1))
		x = b.node("Relu", "conv2d/Relu", []string{x})
		x = b.node("ReduceMean", "global_average_pooling2d/Mean", []string{x}, aInts("axes", 1, 2), aInt("keepdims", 0))
		x = b.node("MatMul", "dense/MatMul", []string{x, b.init("dense/kernel", []int64{4, 3})})
		return b.done(x)
	},
	"reduce_max_squeeze": func() *onnxpb.ModelProto {
		b := tModel(18, "x", -1, 2, 5, 5)
		x := b.conv("Conv_0", "x", 2, 4, 3, true)
		x = b.node("ReduceMax", "ReduceMax_1", []string{x, b.initInts("axes", -1, -2)})
		x = b.node("Squeeze", "Squeeze_2", []string{x, b.initInts("sq", 2, 3)})
		x = b.node("Gemm", "Gemm_3", []string{x, b.init("W", []int64{4, 2})})
		return b.done(x)
	},
	// BatchNormalization folded into the Conv (without bias) and the
	// Gemm before it, and the global pools as whole-image pools.
	"batchnorm_global": func() *onnxpb.ModelProto {
		b := tModel(13, "x", -1, 1, 4, 4)
		x := b.conv("Conv_0", "x", 1, 2, 1, false)
		x = b.node("BatchNormalization", "BatchNormalization_1", []string{x,
			b.init("bn1.scale", []int64{2}, 2, 0.5), b.init("bn1.B", []int64{2}, 1, -1),
			b.init("bn1.mean", []int64{2}, 0.5, -0.25), b.init("bn1.var", []int64{2}, 3.99, 0.24)}, aFloat("epsilon", 0.01))
		x = b.node("Relu", "Relu_2", []string{x})
		x = b.node("GlobalMaxPool", "GlobalMaxPool_3", []string{x})
		x = b.conv("Conv_4", x, 2, 3, 1, true)
		x = b.node("GlobalAveragePool", "GlobalAveragePool_5", []string{x})
		x = b.node("Flatten", "Flatten_6", []string{x})
		x = b.node("Gemm", "Gemm_7", []string{x, b.init("W", []int64{2, 3}), b.init("C", []int64{2})}, aInt("transB", 1))
		x = b.node("BatchNormalization", "BatchNormalization_8", []string{x,
			b.init("bn2.scale", []int64{2}), b.init("bn2.B", []int64{2}), b.init("bn2.mean", []int64{2}), b.init("bn2.var", []int64{2}, 1, 2)})
		return b.done(x)
	},
	"refuse_many": func() *onnxpb.ModelProto {
		b := tModel(13, "x", -1, 3, 16, 16)
		x := b.conv("Conv_0", "x", 3, 4, 3, true, aInt("group", 1))
		x = b.node("LeakyRelu", "LeakyRelu_1", []string{x})
		x = b.node("BatchNormalization", "BatchNormalization_2", []string{x, b.init("s", []int64{4}), b.init("b", []int64{4}), b.init("m", []int64{4}), b.init("v", []int64{4})})
		x = b.conv("Conv_3", x, 2, 4, 3, true, aInt("group", 2))
		x = b.conv("Conv_4", x, 4, 4, 3, true, aInts("dilations", 2, 2))
		x = b.node("MaxPool", "MaxPool_5", []string{x}, aInts("kernel_shape", 2, 2), aInts("pads", 2, 0, 0, 0))
		x = b.node("InstanceNormalization", "InstanceNormalization_6", []string{x, b.init("is", []int64{4}), b.init("ib", []int64{4})})
		x = b.node("Transpose", "Transpose_7", []string{x}, aInts("perm", 0, 1, 3, 2))
		x = b.node("Flatten", "Flatten_8", []string{x})
		x = b.node("Gemm", "Gemm_9", []string{x, b.init("W", []int64{4, 10})})
		x = b.node("LogSoftmax", "LogSoftmax_10", []string{x}, aInt("axis", 1))
		return b.done(x)
	},
	// A residual connection, a standalone activation, a per-channel
	// scale on the input, an unflattening Reshape and a custom domain.
	"refuse_structure": func() *onnxpb.ModelProto {
		b := tModel(13, "x", -1, 3, 8, 8)
		x := b.node("Mul", "Mul_0", []string{"x", b.init("scale", []int64{1, 3, 1, 1}, 1, 2, 3)})
		x = b.conv("Conv_1", x, 3, 3, 3, true, aInts("pads", 1, 1, 1, 1))
		x = b.node("AveragePool", "AveragePool_2", []string{x}, aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1))
		x = b.node("Relu", "Relu_3", []string{x})
		y := b.conv("Conv_4", x, 3, 3, 3, true, aInts("pads", 1, 1, 1, 1))
		x = b.node("Add", "Add_5", []string{x, y})
		x = b.node("Reshape", "Reshape_6", []string{x, b.initInts("shape", 0, 3, 64, 1)})
		b.g.Node = append(b.g.Node, &onnxpb.NodeProto{OpType: proto.String("FusedThing"), Domain: proto.String("com.microsoft"), Name: proto.String("Fused_7"), Input: []string{x}, Output: []string{"y"}})
		return b.done("y")
	},
	// Refusals of the details of supported operators.
	"refuse_details": func() *onnxpb.ModelProto {
		b := tModel(13, "x", -1, 1, 8, 8)
		x := b.conv("Conv_0", "x", 1, 2, 3, true, aInts("pads", 0, 0, -1, 0))
		x = b.conv("Conv_1", x, 1, 2, 3, true)
		x = b.node("AveragePool", "AveragePool_2", []string{x}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("ceil_mode", 1))
		x = b.node("Pad", "Pad_3", []string{x, b.initInts("pads", 0, 0, 1, 1, 0, 0, 1, 1)}, aStr("mode", "reflect"))
		x = b.node("MaxPool", "MaxPool_4", []string{x}, aInts("kernel_shape", 2, 2))
		x = b.node("Flatten", "Flatten_5", []string{x}, aInt("axis", 2))
		x = b.node("Softmax", "Softmax_6", []string{x})
		return b.done(x)
	},
}

func TestImportGoldens(t *testing.T) {
	for name, build := range impCases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", "import", name+".txtar")
			got := tImportReport(build(), "model.onnx")
			if *impUpdate {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs (run go test -update to accept)\ngot:\n%s\nwant:\n%s", path, got, want)
			}
		})
	}
	if !*impUpdate {
		paths, _ := filepath.Glob("testdata/import/*.txtar")
		for _, p := range paths {
			if impCases[strings.TrimSuffix(filepath.Base(p), ".txtar")] == nil {
				t.Errorf("%s has no case in impCases", p)
			}
		}
	}
}

// tImportReport imports a model and formats the result as a txtar
// archive: the spec, the weights' names and shapes and the layouts, or
// the errors, one a line.
func tImportReport(m *onnxpb.ModelProto, path string) string {
	var b strings.Builder
	im, err := Import(m, path)
	if err != nil {
		b.WriteString("-- errors --\n" + err.Error() + "\n")
		return b.String()
	}
	b.WriteString("-- spec.cnn --\n")
	b.Write(im.Spec)
	b.WriteString("-- weights --\n")
	for _, w := range im.Weights {
		fmt.Fprintf(&b, "%s %v\n", w.Name, w.Shape)
	}
	fmt.Fprintf(&b, "-- layout --\nInputNCHW %v\nOutputNCHW %v\n", im.InputNCHW, im.OutputNCHW)
	return b.String()
}

// tWeights returns the imported weights by name.
func tWeights(t *testing.T, im *Imported) map[string][]float32 {
	t.Helper()
	ws := map[string][]float32{}
	for _, w := range im.Weights {
		ws[w.Name] = w.Data
	}
	return ws
}

// TestImportConvKernelLayout checks ONNX's (cout, cin, kh, kw) kernel
// against convc's (kh, kw, cin, cout), and the bias.
func TestImportConvKernelLayout(t *testing.T) {
	b := tModel(13, "x", 1, 2, 5, 5)
	x := b.conv("Conv_0", "x", 2, 3, 3, true)
	m := b.done(b.node("Relu", "Relu_1", []string{x}))
	im, err := Import(m, "conv.onnx")
	if err != nil {
		t.Fatal(err)
	}
	w := tWeights(t, im)
	src := m.Graph.Initializer[0].FloatData
	for o := range 3 {
		for i := range 2 {
			for y := range 3 {
				for x := range 3 {
					if got, want := w["conv2d/kernel"][((y*3+x)*2+i)*3+o], src[((o*2+i)*3+y)*3+x]; got != want {
						t.Fatalf("kernel (%d, %d, %d, %d) = %v, want %v", y, x, i, o, got, want)
					}
				}
			}
		}
	}
	if !slices.Equal(w["conv2d/bias"], m.Graph.Initializer[1].FloatData) {
		t.Errorf("bias %v, want %v", w["conv2d/bias"], m.Graph.Initializer[1].FloatData)
	}
}

// TestImportFlattenOrder checks the Dense kernel after flattening: ONNX
// flattens NCHW as c*H*W + h*W + w, convc flattens HWC as (h*W + w)*C + c,
// so the kernel's rows are reordered; after tf2onnx's Transpose to NHWC
// they are not.
func TestImportFlattenOrder(t *testing.T) {
	const C, H, W, units = 3, 2, 4, 5
	for _, nhwc := range []bool{false, true} {
		b := tModel(13, "x", -1, C, H, W)
		x := b.conv("Conv_0", "x", C, C, 1, false)
		if nhwc {
			x = b.node("Transpose", "Transpose_1", []string{x}, aInts("perm", 0, 2, 3, 1))
		}
		x = b.viewFlatten(x)
		m := b.done(b.node("Gemm", "Gemm_2", []string{x, b.init("W", []int64{units, C * H * W})}, aInt("transB", 1)))
		im, err := Import(m, "flat.onnx")
		if err != nil {
			t.Fatal(err)
		}
		k := tWeights(t, im)["dense/kernel"]
		src := tInit(m, "W").FloatData // (units, C*H*W)
		for h := range H {
			for w := range W {
				for c := range C {
					row := (h*W+w)*C + c
					onnxRow := c*H*W + h*W + w
					if nhwc {
						onnxRow = row
					}
					for o := range units {
						if got, want := k[row*units+o], src[o*C*H*W+onnxRow]; got != want {
							t.Fatalf("nhwc=%v: kernel row (h=%d, w=%d, c=%d) unit %d = %v, want ONNX row %d: %v", nhwc, h, w, c, o, got, onnxRow, want)
						}
					}
				}
			}
		}
		if !im.InputNCHW {
			t.Errorf("nhwc=%v: InputNCHW = false, want true", nhwc)
		}
	}
}

// TestImportFolding checks the values of what folds into a layer: a
// Rescaling's composed scale and offset, and per-channel Add and Mul in
// the bias and kernel.
func TestImportFolding(t *testing.T) {
	im, err := Import(impCases["arithmetic"](), "arith.onnx")
	if err != nil {
		t.Fatal(err)
	}
	// ((x - 127.5) / 127.5) * 2 = x/63.75 - 2.
	var resc *impLayer
	for _, l := range im.layers {
		if l.kind == "Rescaling" {
			resc = l
		}
	}
	if resc == nil || math.Abs(resc.scale-2/127.5) > 1e-12 || resc.offset != -2 {
		t.Errorf("Rescaling %+v, want scale %v offset -2", resc, 2/127.5)
	}
	w := tWeights(t, im)
	// The kernel (1, 1, 3, 2) is scaled by gain (2, 4) per output channel
	// and the bias is shift*gain = (1, -2).
	if got := w["conv2d/bias"]; !slices.Equal(got, []float32{1, -2}) {
		t.Errorf("bias %v, want [1 -2]", got)
	}
	src := tInit(impCases["arithmetic"](), "Conv_3.weight").FloatData
	for i := range 3 {
		for o, gain := range []float32{2, 4} {
			if got, want := w["conv2d/kernel"][i*2+o], src[o*3+i]*gain; got != want {
				t.Errorf("kernel (0, 0, %d, %d) = %v, want %v", i, o, got, want)
			}
		}
	}
}

// TestImportBatchNorm checks the folding of BatchNormalization into the
// convolution before it: the kernel times s = scale / sqrt(var + epsilon)
// per output channel, and the bias (0 - mean) * s + B.
func TestImportBatchNorm(t *testing.T) {
	m := impCases["batchnorm_global"]()
	im, err := Import(m, "bn.onnx")
	if err != nil {
		t.Fatal(err)
	}
	w := tWeights(t, im)
	src := tInit(m, "Conv_0.weight").FloatData         // (2, 1, 1, 1)
	f := func(v float32) float64 { return float64(v) } // as ONNX stores them
	eps := f(0.01)
	s := []float64{f(2) / math.Sqrt(f(3.99)+eps), f(0.5) / math.Sqrt(f(0.24)+eps)}
	bias := []float64{(0-f(0.5))*s[0] + f(1), (0-f(-0.25))*s[1] + f(-1)}
	for o := range 2 {
		if got, want := w["conv2d/kernel"][o], float32(float64(src[o])*s[o]); got != want {
			t.Errorf("kernel channel %d = %v, want %v", o, got, want)
		}
		if got, want := w["conv2d/bias"][o], float32(bias[o]); got != want {
			t.Errorf("bias %d = %v, want %v", o, got, want)
		}
	}
	// A BatchNormalization after an activation has no layer to fold into.
	b := tModel(13, "x", -1, 1, 4, 4)
	x := b.conv("Conv_0", "x", 1, 2, 1, true)
	x = b.node("Relu", "Relu_1", []string{x})
	x = b.node("BatchNormalization", "BN_2", []string{x, b.init("s", []int64{2}), b.init("b", []int64{2}), b.init("m", []int64{2}), b.init("v", []int64{2}, 1, 1)})
	if _, err := Import(b.done(x), "bn.onnx"); err == nil || !strings.Contains(err.Error(), `node "BN_2" (BatchNormalization): it does not follow a Conv or Gemm directly`) {
		t.Errorf("BatchNormalization after Relu: %v", err)
	}
}

// TestImportFileErrors refuses files that are not ONNX models, or models
// convc cannot read, with one clear line.
func TestImportFileErrors(t *testing.T) {
	valid := impCases["lenet_torch"]
	cases := []struct {
		name string
		data func() []byte
		want string
	}{
		{"empty", func() []byte { return nil }, "the file is empty, not an ONNX model"},
		{"text", func() []byte { return []byte("model mnist {\n}\n") }, "not an ONNX model: it does not decode as a protocol buffer"},
		{"zip", func() []byte { return []byte("PK\x03\x04\x00\x00\xff\xff\xff") }, "zip archive"},
		{"no graph", func() []byte { return tMarshal(&onnxpb.ModelProto{IrVersion: proto.Int64(8)}) }, "not an ONNX model: it has no graph"},
		{"no ir", func() []byte {
			m := valid()
			m.IrVersion = nil
			return tMarshal(m)
		}, "no IR version"},
		{"ir 2", func() []byte {
			m := valid()
			m.IrVersion = proto.Int64(2)
			return tMarshal(m)
		}, "ONNX IR version 2; convc reads IR versions 3 to 11"},
		{"opset 30", func() []byte {
			m := valid()
			m.OpsetImport[0].Version = proto.Int64(30)
			return tMarshal(m)
		}, "opset 30; convc reads opsets 7 to 22"},
		{"no default opset", func() []byte {
			m := valid()
			m.OpsetImport[0].Domain = proto.String("ai.onnx.ml")
			return tMarshal(m)
		}, "imports no operator set of the default ONNX domain"},
		{"empty graph", func() []byte {
			m := valid()
			m.Graph.Node = nil
			return tMarshal(m)
		}, "the graph is empty"},
		{"external data", func() []byte {
			m := valid()
			w := m.Graph.Initializer[0]
			w.FloatData = nil
			w.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
			w.ExternalData = []*onnxpb.StringStringEntryProto{{Key: proto.String("location"), Value: proto.String("weights.bin")}}
			return tMarshal(m)
		}, `initializer "Conv_0.weight": its data is stored outside the model file (data_location EXTERNAL)`},
		{"int8 weights", func() []byte {
			m := valid()
			w := m.Graph.Initializer[0]
			w.FloatData, w.DataType = nil, proto.Int32(int32(onnxpb.TensorProto_STRING))
			return tMarshal(m)
		}, `initializer "Conv_0.weight": it has type STRING; convc reads float32 weights`},
		{"short data", func() []byte {
			m := valid()
			m.Graph.Initializer[0].FloatData = m.Graph.Initializer[0].FloatData[:7]
			return tMarshal(m)
		}, `initializer "Conv_0.weight": it holds 7 values; dims [6, 1, 5, 5] need 150`},
		{"int input", func() []byte {
			m := valid()
			m.Graph.Input[0] = tValueInfo("input.1", onnxpb.TensorProto_UINT8, -1, 1, 28, 28)
			return tMarshal(m)
		}, `the graph's input "input.1" is UINT8; convc models take float32`},
		{"symbolic size", func() []byte {
			m := valid()
			m.Graph.Input[0] = tValueInfo("input.1", onnxpb.TensorProto_FLOAT, -1, 1, -1, 28)
			return tMarshal(m)
		}, `dimension 2 is symbolic ("N"); convc needs every size but the batch's`},
		{"two inputs", func() []byte {
			m := valid()
			m.Graph.Input = append(m.Graph.Input, tValueInfo("y", onnxpb.TensorProto_FLOAT, 1, 3))
			return tMarshal(m)
		}, `the graph has 2 inputs ("input.1", "y")`},
	}
	dir := t.TempDir()
	for _, c := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".onnx")
		if err := os.WriteFile(path, c.data(), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := ImportFile(path)
		if err == nil {
			t.Errorf("%s: imported", c.name)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), path+": ") {
			t.Errorf("%s: error %q, want %q after the file's name", c.name, err, c.want)
		}
	}
	if _, err := ImportFile(filepath.Join(dir, "missing.onnx")); err == nil || !strings.Contains(err.Error(), "missing.onnx: no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// tInit returns a model's initializer.
func tInit(m *onnxpb.ModelProto, name string) *onnxpb.TensorProto {
	for _, in := range m.Graph.Initializer {
		if in.GetName() == name {
			return in
		}
	}
	panic("no initializer " + name)
}

func tMarshal(m *onnxpb.ModelProto) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzImport checks that no input makes the importer panic; go test runs
// its seeds, and go test -fuzz FuzzImport searches further.
func FuzzImport(f *testing.F) {
	// Small models: the fuzzer minimizes large inputs slowly.
	for _, name := range []string{"pools", "nhwc_tf2onnx", "refuse_structure", "arithmetic", "mlp_opset7", "vector_affine"} {
		f.Add(tMarshal(impCases[name]()))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if m, err := impUnmarshal("fuzz.onnx", data); err == nil {
			Import(m, "fuzz.onnx")
		}
	})
}

// TestImportCorrupt feeds truncated and corrupted models to the importer,
// which must refuse or import them without panicking.
func TestImportCorrupt(t *testing.T) {
	var models [][]byte
	for _, name := range []string{"lenet_torch", "pools", "nhwc_tf2onnx", "refuse_many"} {
		models = append(models, tMarshal(impCases[name]()))
	}
	for _, data := range models {
		for cut := 0; cut < len(data); cut += 1 + len(data)/150 {
			tImportBytes(t, data[:cut])
		}
		seed := uint32(1)
		for range 120 {
			d := bytes.Clone(data)
			for range 3 {
				seed = seed*1664525 + 1013904223
				d[int(seed>>8)%len(d)] ^= byte(seed >> 24)
			}
			tImportBytes(t, d)
		}
	}
}

func tImportBytes(t *testing.T, data []byte) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("panic on %d bytes %x...: %v", len(data), data[:min(len(data), 32)], r)
		}
	}()
	m, err := impUnmarshal("corrupt.onnx", data)
	if err != nil {
		return
	}
	Import(m, "corrupt.onnx")
}

// TestImportNames checks the model's name: the graph's unless an exporter
// wrote its default, else the file's, made valid.
func TestImportNames(t *testing.T) {
	for _, c := range []struct{ graph, path, want string }{
		{"LeNet-5", "x.onnx", "lenet_5"},
		{"torch_jit", "models/My Net.onnx", "my_net"},
		{"main_graph", "2layers.onnx", "model_2layers"},
		{"", "func.onnx", "func_model"},
		{"", "net_test.onnx", "net_test_model"},
		{"", "mnist_amd64.onnx", "mnist_amd64_model"},
		{"", "main.onnx", "main_model"},
		{"", "___.onnx", "model"},
		{"", "_hidden.onnx", "hidden"},
	} {
		if got := impModelName(c.graph, c.path); got != c.want {
			t.Errorf("impModelName(%q, %q) = %q, want %q", c.graph, c.path, got, c.want)
		}
	}
	im, err := Import(impCases["mlp_opset7"](), "mlp.onnx")
	if err != nil {
		t.Fatal(err)
	}
	if err := im.Rename("main"); err == nil || !strings.Contains(err.Error(), "model name main") {
		t.Errorf("Rename(main): %v", err)
	}
	if err := im.Rename("tiny_mlp"); err != nil || im.Name != "tiny_mlp" || !bytes.Contains(im.Spec, []byte("model tiny_mlp {")) {
		t.Errorf("Rename(tiny_mlp): %v, name %s", err, im.Name)
	}
}

// TestImportWrite writes the spec and weights and reads the weights back.
func TestImportWrite(t *testing.T) {
	m := impCases["lenet_torch"]()
	m.Graph.Name = proto.String("torch_jit")
	im, err := Import(m, "lenet.onnx")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	spec, weights, err := im.Write(dir)
	if err != nil {
		t.Fatal(err)
	}
	if spec != filepath.Join(dir, "lenet.cnn") || weights != filepath.Join(dir, "lenet.safetensors") {
		t.Errorf("wrote %s and %s", spec, weights)
	}
	got, err := os.ReadFile(spec)
	if err != nil || !bytes.Equal(got, im.Spec) {
		t.Errorf("spec file: %v", err)
	}
	meta, err := runtime.SafetensorsMetadata(weights)
	if err != nil || meta["source"] != "lenet.onnx" || meta["spec"] != "lenet" {
		t.Errorf("weights metadata %v, %v", meta, err)
	}
}

// tTorchScript exports small PyTorch models with torch.onnx.export, with
// an input batch and PyTorch's eval-mode outputs as raw float32 files.
const tTorchScript = `
import json, sys, os
import numpy as np
import torch, torch.nn as nn
torch.manual_seed(0)
out = sys.argv[1]

class LeNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1, s.c2 = nn.Conv2d(1, 6, 5, padding=2), nn.Conv2d(6, 16, 5)
        s.f1, s.f2 = nn.Linear(16*5*5, 32), nn.Linear(32, 10)
        s.register_buffer("gain", torch.rand(16*5*5) + 0.5)
    def forward(s, x):
        x = torch.max_pool2d(torch.relu(s.c1(x)), 2)
        x = torch.max_pool2d(torch.relu(s.c2(x)), 2)
        x = x.view(x.size(0), -1) * s.gain + 0.25
        return torch.softmax(s.f2(torch.relu(s.f1(x))), 1)

class Pads(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        s.mp = nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)
        s.ap1 = nn.AvgPool2d(3, stride=1, padding=1)
        s.ap2 = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        s.c2 = nn.Conv2d(4, 5, (3, 2), padding=(1, 0), bias=False)
        s.d = nn.Dropout(0.4)
        s.f = nn.Linear(5*4*4, 3)
    def forward(s, x):
        x = s.mp(torch.sigmoid(s.c1(x)))
        x = s.ap2(s.ap1(x))
        x = torch.relu(s.c2(x))
        return torch.sigmoid(s.f(s.d(torch.flatten(x, 1))))

class ConvOut(nn.Module):
    def __init__(s):
        super().__init__()
        s.c1 = nn.Conv2d(2, 3, 3, bias=False)
        s.c2 = nn.Conv2d(3, 2, 1)
    def forward(s, x):
        x = (x - 0.5) * 2
        return s.c2(torch.tanh(s.c1(x)))

class MLP(nn.Module):
    def __init__(s):
        super().__init__()
        s.f1, s.f2 = nn.Linear(12, 7), nn.Linear(7, 4)
        s.register_buffer("mean", torch.rand(12))
    def forward(s, x):
        x = (x - s.mean) / 0.5
        return s.f2(torch.relu(s.f1(x)))

models = [("lenet", LeNet(), (1, 28, 28), 14), ("pads", Pads(), (3, 14, 16), 11),
          ("convout", ConvOut(), (2, 6, 5), 13), ("mlp", MLP(), (12,), 14)]
manifest = []
for name, m, shape, opset in models:
    m.eval()
    x = torch.rand(3, *shape)
    with torch.no_grad():
        y = m(x)
    path = os.path.join(out, name + ".onnx")
    torch.onnx.export(m, x, path, input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, opset_version=opset)
    x.numpy().astype("<f4").tofile(os.path.join(out, name + ".x"))
    y.numpy().astype("<f4").tofile(os.path.join(out, name + ".y"))
    manifest.append({"name": name, "x": list(x.shape), "y": list(y.shape)})
json.dump(manifest, open(os.path.join(out, "manifest.json"), "w"))
`

// TestImportPyTorch imports models that torch.onnx.export wrote (Debian's
// PyTorch 1.13) and runs them with convc's reference interpreter: they
// must give PyTorch's outputs.
func TestImportPyTorch(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import torch, onnx").Run(); err != nil {
		t.Skip("needs python3 with torch and onnx (Debian: python3-torch, python3-onnx)")
	}
	dir := t.TempDir()
	if out, err := exec.Command(py, "-c", tTorchScript, dir).CombinedOutput(); err != nil {
		t.Fatalf("exporting the models: %v\n%s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest []struct {
		Name string
		X, Y []int
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	for _, c := range manifest {
		t.Run(c.Name, func(t *testing.T) {
			im, err := ImportFile(filepath.Join(dir, c.Name+".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			m, errs := dsl.Check(im.Name+".cnn", im.Spec)
			if errs != nil {
				t.Fatal(errs)
			}
			ref := runtime.NewReference(codegen.RuntimeSpec(m, ""))
			for i, w := range im.Weights {
				copy(ref.Params()[i], w.Data)
			}
			worker := ref.NewWorker()
			x, y := tReadFloats(t, filepath.Join(dir, c.Name+".x")), tReadFloats(t, filepath.Join(dir, c.Name+".y"))
			n := c.X[0]
			last := m.Layers[len(m.Layers)-1]
			var worst float64
			for s := range n {
				in := x[s*len(x)/n : (s+1)*len(x)/n]
				want := y[s*len(y)/n : (s+1)*len(y)/n]
				if len(c.X) == 4 {
					in = tHWC(in, c.X[1], c.X[2], c.X[3])
				}
				if len(c.Y) == 4 {
					want = tHWC(want, c.Y[1], c.Y[2], c.Y[3])
				}
				got := slices.Clone(worker.Forward(in, false, 0))
				// The interpreter leaves the last layer's activation to
				// the loss.
				tActivate(last.Activation, got, last.Out[len(last.Out)-1])
				if len(got) != len(want) {
					t.Fatalf("output of %d floats, PyTorch's has %d", len(got), len(want))
				}
				for j := range got {
					worst = max(worst, math.Abs(float64(got[j]-want[j])))
				}
			}
			if worst > 1e-4 {
				t.Errorf("largest difference from PyTorch %g, want at most 1e-4; the spec:\n%s", worst, im.Spec)
			}
			t.Logf("largest difference from PyTorch %g", worst)
		})
	}
}

func tReadFloats(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := make([]float32, len(b)/4)
	for i := range f {
		f[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return f
}

// tHWC transposes one CHW sample to HWC.
func tHWC(x []float32, c, h, w int) []float32 {
	out := make([]float32, len(x))
	for ci := range c {
		for y := range h {
			for xi := range w {
				out[(y*w+xi)*c+ci] = x[(ci*h+y)*w+xi]
			}
		}
	}
	return out
}

// tActivate applies an activation in place, softmax over groups of n.
func tActivate(act string, z []float32, n int) {
	for i, v := range z {
		switch act {
		case "relu":
			z[i] = max(v, 0)
		case "sigmoid":
			z[i] = float32(1 / (1 + math.Exp(-float64(v))))
		case "tanh":
			z[i] = float32(math.Tanh(float64(v)))
		}
	}
	if act == "softmax" {
		for g := 0; g < len(z); g += n {
			runtime.Softmax(z[g:g+n], z[g:g+n])
		}
	}
}

// TestImportRoundTrip exports convc models with Export and imports them
// back: the layers (but Dropout, which the export leaves out) and the
// weights must be the same.
func TestImportRoundTrip(t *testing.T) {
	for name, src := range map[string]string{
		"image": `model rt {
    Input(shape=(12, 10, 3))
    Rescaling(1./255, offset=-0.5)
    Conv2D(4, 3, strides=2, padding=((1, 1), (0, 1)), activation="relu")
    MaxPooling2D(2, padding="same")
    AveragePooling2D(3, strides=1, padding=1, count_include_pad=True)
    AveragePooling2D(2, strides=1, padding="same")
    Conv2D(5, (1, 2), activation="tanh", use_bias=False)
    Flatten()
    Dropout(0.5)
    Dense(6, activation="sigmoid")
    Dense(3, activation="softmax")
}
`,
		"conv_output": `model rt {
    Input(shape=(5, 6, 2))
    Conv2D(3, 3, padding="same", activation="sigmoid")
}
`,
		"vector": `model rt {
    Input(shape=(7,))
    Dense(4, activation="tanh", use_bias=False)
    Dense(1, activation="sigmoid")
}
`,
	} {
		t.Run(name, func(t *testing.T) {
			m, errs := dsl.Check("rt.cnn", []byte(src))
			if errs != nil {
				t.Fatal(errs)
			}
			var ws []runtime.NamedTensor
			for i, p := range m.Params() {
				ws = append(ws, runtime.NamedTensor{Name: p.Name, Shape: p.Shape, Data: tValues(p.Shape.Size(), i)})
			}
			mp, err := Export(m, ws)
			if err != nil {
				t.Fatal(err)
			}
			im, err := Import(mp, "rt.onnx")
			if err != nil {
				t.Fatal(err)
			}
			back, errs := dsl.Check("back.cnn", im.Spec)
			if errs != nil {
				t.Fatal(errs)
			}
			var want []dsl.Layer
			for _, l := range m.Layers {
				if l.Kind != dsl.KindDropout {
					want = append(want, l)
				}
			}
			if len(back.Layers) != len(want) {
				t.Fatalf("imported %d layers, want %d:\n%s", len(back.Layers), len(want), im.Spec)
			}
			for i, l := range back.Layers {
				w := want[i]
				if l.Kind != w.Kind || !slices.Equal(l.Out, w.Out) || l.Activation != w.Activation || l.Pad != w.Pad ||
					l.Strides != w.Strides || l.Kernel != w.Kernel || l.CountIncludePad != w.CountIncludePad ||
					l.UseBias != w.UseBias || float32(l.Scale) != float32(w.Scale) || float32(l.Offset) != float32(w.Offset) {
					t.Errorf("layer %d is %s, want %s", i, l.Source, w.Source)
				}
			}
			for i, w := range im.Weights {
				if w.Name != ws[i].Name || !slices.Equal(w.Data, ws[i].Data) {
					t.Errorf("tensor %s differs from the exported %s", w.Name, ws[i].Name)
				}
			}
			if im.InputNCHW || im.OutputNCHW {
				t.Errorf("InputNCHW %v, OutputNCHW %v; the export takes and gives NHWC", im.InputNCHW, im.OutputNCHW)
			}
		})
	}
}

// TestImportRefusals checks the message of each refusal alone.
func TestImportRefusals(t *testing.T) {
	conv := func(b *tGraph) string { return b.conv("Conv_0", "x", 2, 3, 3, true) } // [N, 3, 6, 6] from [N, 2, 8, 8]
	gemm := func(b *tGraph, x string) string {
		x = b.node("Flatten", "Flatten_1", []string{x})
		return b.node("Gemm", "Gemm_2", []string{x, b.init("W", []int64{108, 4})})
	}
	for _, c := range []struct {
		name  string
		build func(b *tGraph) string
		want  string
	}{
		{"average pool ceil_mode", func(b *tGraph) string {
			return gemm(b, b.node("AveragePool", "AP", []string{b.conv("Conv_0", "x", 2, 3, 2, true)}, aInts("kernel_shape", 2, 2), aInts("strides", 2, 2), aInt("ceil_mode", 1), aInt("count_include_pad", 1)))
		}, `node "AP" (AveragePool): ceil_mode=1 adds a partial window at the bottom or right, whose average over counted padding convc cannot represent`},
		{"max pool ceil_mode past the input", func(b *tGraph) string {
			return gemm(b, b.node("MaxPool", "MP", []string{conv(b)}, aInts("kernel_shape", 2, 2), aInts("strides", 3, 3), aInt("ceil_mode", 1)))
		}, `node "MP" (MaxPool): ceil_mode=1 adds a window that starts past the input, on which engines disagree`},
		{"reflect pad", func(b *tGraph) string {
			p := b.node("Pad", "P", []string{conv(b), b.initInts("pads", 0, 0, 1, 1, 0, 0, 1, 1)}, aStr("mode", "reflect"))
			return gemm(b, b.conv("Conv_3", p, 3, 3, 3, true))
		}, `node "P" (Pad): mode "reflect" is not supported; convc pads with zeros`},
		{"pad before max pool", func(b *tGraph) string {
			p := b.node("Pad", "P", []string{conv(b), b.initInts("pads", 0, 0, 1, 1, 0, 0, 1, 1)})
			return gemm(b, b.node("MaxPool", "MP", []string{p}, aInts("kernel_shape", 3, 3), aInts("strides", 3, 3)))
		}, `node "P" (Pad): zero padding is supported only right before a Conv or AveragePool, which take it as their padding; here it feeds MaxPool`},
		{"pad and own pads", func(b *tGraph) string {
			p := b.node("Pad", "P", []string{conv(b), b.initInts("pads", 0, 0, 1, 1, 0, 0, 1, 1)})
			return gemm(b, b.node("AveragePool", "AP", []string{p}, aInts("kernel_shape", 3, 3), aInts("pads", 1, 1, 1, 1), aInts("strides", 3, 3)))
		}, `counts all padding or none`},
		{"softmax over channels", func(b *tGraph) string {
			return b.node("Softmax", "S", []string{conv(b)}, aInt("axis", 1))
		}, `node "S" (Softmax): softmax over axis 1 of [N, 3, 6, 6]`},
		{"sigmoid after dropout", func(b *tGraph) string {
			d := b.node("Dropout", "D", []string{gemm(b, conv(b))})
			return b.node("Sigmoid", "S", []string{d})
		}, `node "S" (Sigmoid): Sigmoid after Dropout D cannot move onto Gemm_2 before it: only relu commutes with dropout's scaling`},
		{"two activations", func(b *tGraph) string {
			return gemm(b, b.node("Sigmoid", "S", []string{b.node("Relu", "R", []string{conv(b)})}))
		}, `node "S" (Sigmoid): Sigmoid follows Conv_0 + R, which already has activation relu`},
		{"flatten at the end", func(b *tGraph) string {
			return b.node("Flatten", "F", []string{conv(b)})
		}, `the graph's output "F_out" is an NCHW image flattened channel by channel`},
		{"training mode", func(b *tGraph) string {
			training := &onnxpb.TensorProto{Name: proto.String("t"), DataType: proto.Int32(int32(onnxpb.TensorProto_BOOL)), Int32Data: []int32{1}}
			b.g.Initializer = append(b.g.Initializer, training)
			return b.node("Dropout", "D", []string{gemm(b, conv(b)), "", "t"})
		}, `node "D" (Dropout): it runs in training mode`},
		{"scale of a vector", func(b *tGraph) string {
			return b.node("Mul", "M", []string{b.node("Relu", "R", []string{gemm(b, conv(b))}), b.init("s", nil, 2)})
		}, `node "M" (Mul): multiplies by a constant on a vector [N, 4]`},
		{"constant divided by the activation", func(b *tGraph) string {
			return gemm(b, b.node("Div", "D", []string{b.init("one", nil, 1), conv(b)}))
		}, `divides a constant by the activation`},
		{"reshape to 3-D", func(b *tGraph) string {
			return b.node("Reshape", "R", []string{conv(b), b.initInts("shape", 0, 3, -1)})
		}, `node "R" (Reshape): Reshape of [N, 3, 6, 6] to [0, 3, -1] is not supported; convc reshapes only to flatten an image to [N, -1]`},
		{"transA", func(b *tGraph) string {
			x := b.node("Flatten", "Flatten_1", []string{conv(b)})
			return b.node("Gemm", "G", []string{x, b.init("W", []int64{108, 4})}, aInt("transA", 1))
		}, `node "G" (Gemm): transA=1 is not supported`},
		{"branch", func(b *tGraph) string {
			x := conv(b)
			b.node("Relu", "R", []string{x})
			return gemm(b, x)
		}, `node "Flatten_1" (Flatten): takes "Conv_0_out", which node "R" takes too: the graph branches there`},
		{"3-D convolution", func(b *tGraph) string {
			return b.node("Conv", "C", []string{"x", b.init("W", []int64{3, 2, 3, 3, 3})})
		}, `node "C" (Conv): it is a 3-D convolution (weights [3, 2, 3, 3, 3])`},
		{"unsorted", func(b *tGraph) string {
			return b.node("Relu", "R", []string{"later"})
		}, `node "R" (Relu): takes "later", which no earlier node, initializer or graph input makes`},
	} {
		b := tModel(13, "x", -1, 2, 8, 8)
		m := b.done(c.build(b))
		_, err := Import(m, "model.onnx")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v\nwant %s", c.name, err, c.want)
		}
	}
}
