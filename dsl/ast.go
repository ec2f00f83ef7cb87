package dsl

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// This file holds the syntax tree and the participle grammar. Every node
// has Pos (its first token) and EndPos (just after its last token).

// File is a parsed spec: a sequence of statements. A valid spec has one
// model block and at most one compile and one fit call, but the parser
// accepts any sequence and leaves that to the checker.
type File struct {
	Pos    lexer.Position
	Stmts  []*Stmt `parser:"@@*"`
	EndPos lexer.Position
}

// Stmt is a top-level statement: a model block or a call such as
// compile(...) or fit(...).
type Stmt struct {
	Pos    lexer.Position
	Model  *ModelDecl `parser:"@@"`
	Call   *Call      `parser:"| @@"`
	EndPos lexer.Position
}

// ModelDecl is `model NAME { LAYER... }`.
type ModelDecl struct {
	Pos    lexer.Position
	Name   *Ident  `parser:"'model' @@ '{'"`
	Layers []*Call `parser:"@@* '}'"`
	EndPos lexer.Position
}

// Ident is a name with its position.
type Ident struct {
	Pos  lexer.Position
	Name string `parser:"@Ident"`
}

// Call is NAME(ARG, ...): a layer, a statement, or a nested value such as
// RMSprop(learning_rate=1e-4). Calls are the bulk of a spec, so Call
// parses itself (see callparse.go) with this grammar, which
// reference_test.go keeps as participle tags and checks it against:
//
//	Call  = <ident> "(" (Arg ("," Arg)* ","?)? ")" .
//	Arg   = (<ident> "=")? Expr .
//	Expr  = Atom BinOp* .
//	BinOp = ("*" | "/") Atom .
//	Atom  = ("-" | "+")? (<string> | <int> | <float> | Call | <ident> | ("(" Seq ")") | ("[" Seq "]")) .
//	Seq   = (Expr ("," Expr)*)? ","? .
type Call struct {
	Pos    lexer.Position
	Name   string
	Args   []*Arg
	EndPos lexer.Position
}

// Arg is a positional (Key == "") or keyword argument; Pos is that of
// the key when there is one.
type Arg struct {
	Pos    lexer.Position
	Key    string
	Value  *Expr
	EndPos lexer.Position
}

// Expr is a value, or a constant product or quotient such as 1./255.
type Expr struct {
	Pos    lexer.Position
	Left   *Atom
	Ops    []*BinOp
	EndPos lexer.Position
}

// BinOp is one "* x" or "/ x" of an Expr.
type BinOp struct {
	Pos   lexer.Position
	Op    string
	Right *Atom
}

// Atom is a literal, a name (None, True, False), a call, a tuple or a
// list, with an optional sign. Numbers and strings keep their source
// text; the checker converts them.
type Atom struct {
	Pos    lexer.Position
	Sign   string
	String *string
	Int    *string
	Float  *string
	Call   *Call
	Name   *string
	Tuple  *Seq
	List   *Seq
	EndPos lexer.Position
}

// Seq is the inside of a tuple or list. Trailing records a trailing
// comma, which makes (3,) a tuple where (3) is just 3.
type Seq struct {
	Pos      lexer.Position
	Elems    []*Expr
	Trailing bool
}

// lookahead 2 is what the grammar needs: "name =" versus a value, and
// "name (" versus a bare name. More would only slow down error paths.
var parser = participle.MustBuild[File](
	participle.Lexer(specDefinition{}),
	participle.UseLookahead(2),
)

// maxDepth bounds the nesting of brackets so that a hostile spec cannot
// exhaust the stack of the recursive-descent parser.
const maxDepth = 32

// Parse parses a spec. It reports syntax errors, a file that is empty or
// not UTF-8, and statements or layers that do not start on a new line.
// The tree is nil when there are errors.
func Parse(filename string, src []byte) (*File, ErrorList) {
	var errs ErrorList
	if !utf8.Valid(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRune(src[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		pos := offsetPos(filename, src, off)
		errs.add(pos, "the file is not valid UTF-8 (byte 0x%02x); save it as UTF-8", src[off])
		return nil, errs
	}
	if len(strings.TrimSpace(string(src))) == 0 {
		errs.add(Pos{File: filename, Line: 1, Col: 1}, "the file is empty; a spec needs a model block: model NAME { Input(shape=(28, 28, 1)) ... }")
		return nil, errs
	}
	peek, err := lexer.Upgrade(newLexer(filename, src, &errs))
	if err == errLexing {
		return nil, errs
	} else if err != nil {
		errs.add(Pos{File: filename, Line: 1, Col: 1}, "%v", err)
		return nil, errs
	}
	f, err := parser.ParseFromLexer(peek)
	if err != nil {
		errs = append(errs, syntaxError(filename, err))
		return nil, errs
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// syntaxError turns a participle error into ours, phrased for users.
func syntaxError(filename string, err error) *Error {
	pe, ok := err.(participle.Error)
	if !ok {
		return &Error{Pos: Pos{File: filename, Line: 1, Col: 1}, Msg: "syntax error: " + err.Error()}
	}
	msg := pe.Message()
	if u, ok := err.(*participle.UnexpectedTokenError); ok {
		tok := u.Unexpected
		what := fmt.Sprintf("%q", tok.Value)
		if tok.EOF() {
			what = "end of file"
		}
		msg = "unexpected " + what
		if _, exp, ok := strings.Cut(u.Message(), " (expected "); ok {
			msg += "; expected " + strings.TrimSuffix(exp, ")")
		}
	}
	return &Error{Pos: convPos(filename, pe.Position()), Msg: "syntax error: " + msg}
}

func convPos(filename string, p lexer.Position) Pos {
	return Pos{File: filename, Line: p.Line, Col: p.Column}
}

// offsetPos computes the position of a byte offset, counting columns in
// runes as the lexer does.
func offsetPos(filename string, src []byte, off int) Pos {
	line, col := 1, 1
	for i := 0; i < off; {
		if src[i] == '\n' {
			line, col = line+1, 1
			i++
			continue
		}
		_, n := utf8.DecodeRune(src[i:])
		i += n
		col++
	}
	return Pos{File: filename, Line: line, Col: col}
}
