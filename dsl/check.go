package dsl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/token"
	"os"
	"slices"
	"strings"

	"github.com/alecthomas/participle/v2/lexer"
)

// CheckFile reads and checks the spec at path. An error reading the file
// becomes an Error that names the file.
func CheckFile(path string) (*Model, ErrorList) {
	src, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		if pe, ok := err.(*os.PathError); ok {
			msg = pe.Err.Error()
		}
		return nil, ErrorList{{Pos: Pos{File: path}, Msg: msg}}
	}
	return Check(path, src)
}

// Check parses and checks a spec. It returns the checked model, or nil
// and every error sorted by position.
func Check(filename string, src []byte) (*Model, ErrorList) {
	// Editors on Windows may start a UTF-8 file with a byte order mark.
	orig := src
	src = bytes.TrimPrefix(src, utf8BOM)
	f, errs := Parse(filename, src)
	if len(errs) > 0 {
		errs.Sort()
		return nil, errs
	}
	c := &checker{file: filename, src: src}
	m := c.check(f)
	if len(c.errs) > 0 {
		c.errs.Sort()
		return nil, c.errs
	}
	sum := sha256.Sum256(orig)
	m.Hash = hex.EncodeToString(sum[:])
	m.File = filename
	return m, nil
}

// utf8BOM is the UTF-8 byte order mark.
var utf8BOM = []byte("\ufeff")

type checker struct {
	file string
	src  []byte
	errs ErrorList
	// pretrained collects the applications that load weights.
	pretrained []Pretrained
}

func (c *checker) pos(p lexer.Position) Pos { return convPos(c.file, p) }

func (c *checker) posString(p Pos) string { return fmt.Sprintf("%d:%d", p.Line, p.Col) }

// source returns the text between two positions on one line: comments
// dropped, whitespace collapsed, and no spaces inside brackets.
func (c *checker) source(from, to lexer.Position) string {
	if from.Offset < 0 || to.Offset > len(c.src) || from.Offset > to.Offset {
		return ""
	}
	return collapse(c.src[from.Offset:to.Offset])
}

func collapse(src []byte) string {
	var b strings.Builder
	space := false
	var quote byte
	for i := 0; i < len(src); i++ {
		ch := src[i]
		if quote != 0 {
			b.WriteByte(ch)
			if ch == '\\' && i+1 < len(src) {
				i++
				b.WriteByte(src[i])
			} else if ch == quote {
				quote = 0
			}
			continue
		}
		switch ch {
		case '#':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			space = true
			continue
		case ' ', '\t', '\n', '\r', '\f', '\v':
			space = true
			continue
		case '"', '\'':
			quote = ch
		}
		if space && b.Len() > 0 {
			last := b.String()[b.Len()-1]
			if last != '(' && last != '[' && ch != ')' && ch != ']' && ch != ',' {
				b.WriteByte(' ')
			}
		}
		space = false
		b.WriteByte(ch)
	}
	return b.String()
}

// args holds the bound arguments of one call.
type args struct {
	call    *Call
	callPos Pos
	specs   []argSpec
	vals    []*value // by the index of specs; nil when absent
}

// lookup returns the argument's value, or nil when it is absent.
func (a *args) lookup(name string) *value {
	for i := range a.specs {
		if a.specs[i].name == name {
			return a.vals[i]
		}
	}
	return nil
}

// get returns the argument's value, or nil when it is absent or already
// reported as bad.
func (a *args) get(name string) *value {
	v := a.lookup(name)
	if v == nil || v.kind == vBad {
		return nil
	}
	return v
}

// pos returns the position of an argument, or of the call when absent.
func (a *args) pos(name string) Pos {
	if v := a.lookup(name); v != nil {
		return v.pos
	}
	return a.callPos
}

func argNames(specs []argSpec) []string {
	names := make([]string, len(specs))
	for i, s := range specs {
		names[i] = s.name
	}
	return names
}

// bind matches a call's arguments to specs, in Keras's positional order
// for the first npos, and reports unknown, duplicate, misplaced and
// missing arguments.
func (c *checker) bind(call *Call, what string, specs []argSpec, npos int, example string) *args {
	a := &args{call: call, callPos: c.pos(call.Pos), specs: specs, vals: make([]*value, len(specs))}
	seenKeyword := false
	var suggested map[string]bool // required arguments a misspelling stands for
	for i, arg := range call.Args {
		k := -1
		if arg.Key == "" {
			if seenKeyword {
				c.errs.add(c.pos(arg.Pos), "positional argument follows keyword argument in %s", what)
				continue
			}
			if i >= npos {
				if npos == 0 {
					c.errs.add(c.pos(arg.Pos), "%s takes no positional arguments; name them, as in %s", what, example)
				} else {
					c.errs.add(c.pos(arg.Pos), "too many positional arguments for %s: it takes %s in this order; name the others", what, strings.Join(argNames(specs[:npos]), ", "))
				}
				continue
			}
			k = i
		} else {
			seenKeyword = true
			name := arg.Key
			for j := range specs {
				if specs[j].name == name {
					k = j
					break
				}
			}
			if k < 0 {
				names := argNames(specs)
				hint := didYouMean(name, names, false)
				if suggested == nil {
					suggested = map[string]bool{}
				}
				suggested[suggest(name, names)] = true
				if hint == "" {
					if len(names) == 0 {
						hint = fmt.Sprintf("; %s takes no arguments", what)
					} else {
						hint = fmt.Sprintf("; %s takes %s", what, strings.Join(names, ", "))
					}
				}
				c.errs.add(c.pos(arg.Pos), "unknown argument %s for %s%s", c.clip(name), what, hint)
				continue
			}
		}
		if prev := a.vals[k]; prev != nil {
			c.errs.add(c.pos(arg.Pos), "%s for %s is given twice; the first is at %s", specs[k].name, what, c.posString(prev.pos))
			continue
		}
		a.vals[k] = c.evalExpr(arg.Value)
	}
	for k, s := range specs {
		if s.required && a.vals[k] == nil && !suggested[s.name] {
			c.errs.add(c.pos(call.Pos), "%s is missing its %s argument, as in %s", what, s.name, example)
		}
	}
	return a
}

// check builds the model from the statements of a parsed file.
func (c *checker) check(f *File) *Model {
	m := &Model{}
	var model *ModelDecl
	var compile, fit *Call
	for _, s := range f.Stmts {
		switch {
		case s.Model != nil:
			if model != nil {
				c.errs.add(c.pos(s.Pos), "a spec holds one model; the first is at %s", c.posString(c.pos(model.Pos)))
				continue
			}
			model = s.Model
		case s.Call.Name == "compile":
			if compile != nil {
				c.errs.add(c.pos(s.Pos), "compile is repeated; the first is at %s", c.posString(c.pos(compile.Pos)))
				continue
			}
			compile = s.Call
		case s.Call.Name == "fit":
			if fit != nil {
				c.errs.add(c.pos(s.Pos), "fit is repeated; the first is at %s", c.posString(c.pos(fit.Pos)))
				continue
			}
			fit = s.Call
		default:
			name := s.Call.Name
			if layerDefs[name] != nil {
				c.errs.add(c.pos(s.Pos), "%s must be inside the model block", name)
				continue
			}
			c.errs.add(c.pos(s.Pos), "unknown statement %s%s", c.clip(name), didYouMean(name, []string{"compile", "fit", "model"}, false))
		}
	}
	if model == nil {
		c.errs.add(Pos{File: c.file, Line: 1, Col: 1}, "no model block; a spec needs one: model NAME { Input(shape=(28, 28, 1)) ... }")
		return nil
	}
	m.Name = model.Name.Name
	if token.IsKeyword(m.Name) {
		c.errs.add(c.pos(model.Name.Pos), "model name %s is a Go keyword; choose another name", m.Name)
	} else if why := badPackageName(m.Name); why != "" {
		c.errs.add(c.pos(model.Name.Pos), "model name %s %s; choose another name", m.Name, why)
	}
	m.Layers = c.layers(model)
	m.Pretrained = c.pretrained
	if len(c.errs) == 0 {
		c.checkSize(m, model)
	}
	if len(c.errs) == 0 && len(m.Layers) > 0 && len(m.Params()) == 0 {
		c.errs.add(c.pos(model.Name.Pos), "model %s has no layer with weights, so there is nothing to train or load; add one, as in Dense(10, activation=\"softmax\")", m.Name)
	}
	m.Compile = defaultCompile()
	if compile != nil {
		m.HasCompile = true
		m.Compile = c.compile(compile, m)
	}
	m.Fit = Fit{Epochs: 1, BatchSize: 32}
	if fit != nil {
		m.HasFit = true
		m.Fit = c.fit(fit, m)
	}
	return m
}

// layers checks the layers of a model block in order, inferring shapes.
// After a layer whose shape cannot be computed, later layers are still
// checked for their arguments but not for shapes.
func (c *checker) layers(md *ModelDecl) []Layer {
	if len(md.Layers) == 0 {
		c.errs.add(c.pos(md.Pos), "model %s has no layers; start it with Input(shape=(28, 28, 1))", md.Name.Name)
		return nil
	}
	layers := make([]Layer, 0, len(md.Layers))
	counters := map[string]int{}
	names := map[string]Pos{}
	var in Shape      // output of the previous layer; nil when unknown
	var flatten *Pos  // the Flatten that made in a vector
	var inputPos *Pos // the Input layer
	for i, call := range md.Layers {
		name := call.Name
		if application(name) {
			ls, pre := c.vgg16(call, in, i == 0, counters, names)
			if ls == nil {
				in = nil
				continue
			}
			for _, l := range ls {
				if l.Kind == KindFlatten {
					p := l.Pos
					flatten = &p
				}
			}
			if i == 0 {
				p := ls[0].Pos
				inputPos = &p
			}
			layers = append(layers, ls...)
			if pre != nil {
				c.pretrained = append(c.pretrained, *pre)
			}
			in = ls[len(ls)-1].Out
			continue
		}
		def := layerDefs[name]
		if def == nil {
			if application(name) {
				c.errs.add(c.pos(call.Pos), "the model must start with Input, as in Input(shape=(180, 180, 3)); got %s", name)
				in = nil
				continue
			}
			hint := didYouMean(name, layerNames, false)
			if hint == "" {
				names := slices.Clone(layerNames)
				slices.Sort(names)
				hint = "; convc has " + strings.Join(names, ", ")
			}
			c.errs.add(c.pos(call.Pos), "unknown layer %s%s", c.clip(name), hint)
			in = nil
			continue
		}
		l := Layer{Kind: def.kind, Pos: c.pos(call.Pos), Source: c.source(call.Pos, call.EndPos), Trainable: true}
		a := c.bind(call, name, def.allArgs, def.npos, def.example)
		if v := a.get("input_shape"); v != nil && v.kind != vNone {
			switch {
			case def.kind == KindInput:
				c.errs.add(v.pos, "Input takes shape=, not input_shape=")
			case i > 0 || inputPos != nil:
				c.errs.add(v.pos, "input_shape applies only to the model's first layer, where it stands for Input(shape=...); remove it")
			default:
				// Keras's Sequential: the first layer's input_shape makes
				// the Input layer.
				shape, ok := c.toShape(v)
				if ok {
					p := c.pos(call.Pos)
					inputPos = &p
					in = shape
					layers = append(layers, Layer{Kind: KindInput, Name: defaultName(layerDefs["Input"], counters), Pos: p,
						Source: "Input(shape=" + c.text(v) + ")", Out: shape, Trainable: true, Implicit: true})
				}
			}
		}

		// Input: first, once.
		if def.kind == KindInput {
			if inputPos != nil {
				c.errs.add(l.Pos, "repeated Input; a model has one Input, the first is at %s", c.posString(*inputPos))
			} else if i > 0 {
				c.errs.add(l.Pos, "Input must be the first layer of the model")
			}
			if inputPos == nil {
				p := l.Pos
				inputPos = &p
			}
		} else if i == 0 && inputPos == nil {
			c.errs.add(l.Pos, "the model must start with Input, as in Input(shape=(28, 28, 1)), or its first layer must give input_shape=; got %s", name)
		}

		// Names: Keras's default names count only default-named layers.
		switch v := a.lookup("name"); {
		case v == nil || v.kind == vNone:
			l.Name = defaultName(def, counters)
		case v.kind == vBad:
		case v.kind != vString:
			c.typeErr(v, name+" name", "a string")
		case !isIdent(v.s):
			c.errs.add(v.pos, "layer name %s is not a valid identifier; use letters, digits and underscores, not starting with a digit", c.text(v))
		case token.IsKeyword(v.s):
			c.errs.add(v.pos, "layer name %s is a Go keyword; choose another name", c.text(v))
		default:
			l.Name = v.s
		}
		if l.Name != "" {
			if prev, dup := names[l.Name]; dup {
				c.errs.add(l.Pos, "duplicate layer name %s; the first is at %s; give this layer another name=", l.Name, c.posString(prev))
			} else {
				names[l.Name] = l.Pos
			}
		}
		if v := a.get("trainable"); v != nil {
			l.Trainable, _ = c.toBool(v, name+" trainable")
		}

		ok := def.resolve(c, &l, a)
		if def.kind == KindInput {
			in = l.Out
			layers = append(layers, l)
			continue
		}
		if !ok || in == nil {
			in = nil
			continue
		}
		l.In = in
		if def.image && len(in) != 3 {
			hint := "give Input an image shape such as (28, 28, 1)"
			if name == "Flatten" {
				hint = "remove it"
			} else if flatten != nil {
				hint = "it must come before Flatten() at " + c.posString(*flatten)
			}
			c.errs.add(l.Pos, "%s expects an image (height, width, channels), got %s; %s", name, shapeString(in), hint)
			in = nil
			continue
		}
		out := def.shape(c, &l, a)
		if out == nil {
			in = nil
			continue
		}
		l.Out = out
		if def.params != nil {
			def.params(c, &l, a)
		}
		for _, p := range l.Params {
			n := 1
			for _, d := range p.Shape {
				n = satMul(n, d)
			}
			if n > maxParams {
				c.errs.add(l.Pos, "%s has %s with %d scalars; the limit is %d", l.Name, p.Name, n, maxParams)
				out = nil
			}
		}
		if def.kind == KindFlatten {
			p := l.Pos
			flatten = &p
		}
		in = out
		layers = append(layers, l)
	}
	return layers
}

// defaultName returns Keras's next default name for a layer kind:
// conv2d, conv2d_1, ...; input_1, input_2, ... for Input.
func defaultName(def *layerDef, counters map[string]int) string {
	n := counters[def.snake]
	counters[def.snake] = n + 1
	if def.kind == KindInput {
		return fmt.Sprintf("input_%d", n+1)
	}
	if n == 0 {
		return def.snake
	}
	return fmt.Sprintf("%s_%d", def.snake, n)
}

// isIdent reports whether s is an ASCII identifier: generated Go code and
// file names use layer names as they are.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '_', 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z':
		case '0' <= ch && ch <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// goos and goarch are the operating systems and architectures that Go
// reads from the end of a file name (name_linux.go, name_amd64.go) as
// build constraints.
var (
	goos   = strings.Fields("aix android darwin dragonfly freebsd hurd illumos ios js linux nacl netbsd openbsd plan9 solaris wasip1 windows zos")
	goarch = strings.Fields("386 amd64 amd64p32 arm armbe arm64 arm64be loong64 mips mipsle mips64 mips64le mips64p32 mips64p32le ppc ppc64 ppc64le riscv riscv64 s390 s390x sparc sparc64 wasm")
)

// badPackageName says why a model name cannot name the generated Go
// package and its files (name.go, name_test.go, cmd/name), or returns "".
func badPackageName(name string) string {
	switch {
	case !isIdent(name):
		return "is not an ASCII identifier, which the generated package and file names need"
	case name == "main":
		return "would make the generated package a program, which cannot be imported"
	case name == "init":
		return "cannot name an importable Go package"
	case strings.HasPrefix(name, "_"):
		return "starts with _, and Go ignores files whose names do"
	case strings.HasSuffix(name, "_test"):
		return "ends in _test, which makes Go read " + name + ".go as a test file"
	}
	parts := strings.Split(name, "_")
	last := parts[len(parts)-1]
	if len(parts) > 1 && (slices.Contains(goos, last) || slices.Contains(goarch, last)) {
		return "ends in _" + last + ", which Go reads in " + name + ".go as a build constraint"
	}
	return ""
}

// Limits on a whole model, so that a spec that checks can be generated,
// built and run: the generated code grows with the layers, the trainer
// holds every parameter several times (weights, gradients, optimizer
// state), and each worker holds every activation of a sample and its
// gradient.
const (
	maxLayers      = 128
	maxModelParams = 1 << 30 // 4 GiB of float32 weights
	maxActivations = 1 << 28 // floats per sample, 1 GiB
)

// checkSize reports a model over the limits.
func (c *checker) checkSize(m *Model, md *ModelDecl) {
	pos := c.pos(md.Name.Pos)
	if n := len(m.Layers); n > maxLayers {
		c.errs.add(pos, "model %s has %d layers; convc generates code for each layer and takes at most %d (the Go of more would take minutes and gigabytes to build)", m.Name, n, maxLayers)
	}
	if n := m.ParamCount(); n > maxModelParams {
		c.errs.add(pos, "model %s has %d parameters, %s of float32 weights, and training holds them several times; convc's limit is %d parameters", m.Name, n, memorySize(n), maxModelParams)
	}
	if n := m.ActivationCount(); n > maxActivations {
		c.errs.add(pos, "model %s computes %d activations per sample (%s, twice that in training, per worker); convc's limit is %d; use a smaller input or fewer filters", m.Name, n, memorySize(n), maxActivations)
	}
}
