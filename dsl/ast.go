package dsl

import (
	"bytes"
	"fmt"
	"regexp"
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
	src = bytes.TrimPrefix(src, utf8BOM)
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
	tokens := lexAll(filename, src, &errs)
	if tokens == nil {
		return nil, errs
	}
	f, err := parseTokens(tokens)
	if err != nil {
		e := syntaxError(filename, err)
		if functional.MatchString(lineAt(src, e.Pos.Line, e.Pos.Col)) {
			e.Msg += "; a spec lists its layers one per line, as keras.Sequential does: write Dense(10) for x = layers.Dense(10)(x)"
		}
		errs = append(errs, e)
		return nil, errs
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}

// parseTokens parses the tokens of a spec. Participle parses the
// statements and model blocks, and calls parse themselves (callparse.go).
// For speed, the valid calls where participle will look for one are
// parsed first and handed to participle as one token each: participle
// copies every token it is given, and that alone took longer than the
// rest of the parse. From the first call that does not parse on,
// participle gets every token, so that it meets the syntax error as if
// nothing had been done in advance.
func parseTokens(tokens []lexer.Token) (*File, error) {
	coarse, calls := collapseCalls(tokens)
	peek, err := lexer.Upgrade(&sliceLexer{tokens: coarse})
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFromLexer(peek)
	if err != nil {
		return nil, err
	}
	// Put the calls parsed in advance in their places, in order.
	fill := func(c **Call) {
		if (*c).Name == "" {
			pos := (*c).Pos
			*c, calls = calls[0], calls[1:]
			if (*c).Pos != pos {
				panic("dsl: calls parsed in advance out of order")
			}
		}
	}
	for _, s := range f.Stmts {
		if s.Call != nil {
			fill(&s.Call)
		}
		if s.Model != nil {
			for i := range s.Model.Layers {
				fill(&s.Model.Layers[i])
			}
		}
	}
	if len(calls) != 0 {
		panic("dsl: calls parsed in advance left over")
	}
	return f, nil
}

// collapseCalls replaces each valid call where the grammar will look for
// one (a statement, or a layer in a model block) with one tokCall token,
// up to the first that is not valid or the first token that is neither.
// It returns the new tokens and the calls.
func collapseCalls(tokens []lexer.Token) ([]lexer.Token, []*Call) {
	var out []lexer.Token
	var calls []*Call
	ts := &tokenSource{toks: tokens}
	i := 0
	// call collapses the call at i, if it is one and valid.
	call := func() bool {
		p := pstate{ts: ts, i: i}
		c, err := p.call()
		if err != nil || c == nil {
			return false
		}
		out = append(out, lexer.Token{Type: tokCall, Value: c.Name, Pos: tokens[i].Pos})
		calls = append(calls, c)
		i = p.i
		return true
	}
	isPunct := func(t *lexer.Token, s string) bool { return t.Type == tokPunct && t.Value == s }
loop:
	for {
		t := &tokens[i]
		switch {
		case t.Type == tokIdent && t.Value == "model":
			// model NAME { CALL... }
			if i+2 >= len(tokens) || tokens[i+1].Type != tokIdent || !isPunct(&tokens[i+2], "{") {
				break loop
			}
			out = append(out, tokens[i:i+3]...)
			i += 3
			for tokens[i].Type == tokIdent {
				if !call() {
					break loop
				}
			}
			if !isPunct(&tokens[i], "}") {
				break loop
			}
			out = append(out, tokens[i])
			i++
		case t.Type == tokIdent:
			if !call() {
				break loop
			}
		default:
			break loop
		}
	}
	return append(out, tokens[i:]...), calls
}

// functional matches the functional style of Keras, x = layers.Dense(10)(x),
// from where a syntax error points.
var functional = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\s*=[^=]`)

// lineAt returns the text of src from a line and column (in runes) to the
// end of that line.
func lineAt(src []byte, line, col int) string {
	lines := strings.Split(string(src), "\n")
	if line < 1 || line > len(lines) {
		return ""
	}
	r := []rune(lines[line-1])
	if col < 1 || col > len(r) {
		return ""
	}
	return string(r[col-1:])
}

// plainExpect rewrites participle's EBNF for what it expected into words.
func plainExpect(exp string) string {
	switch {
	case strings.HasPrefix(exp, `"{"`):
		return `"{", to open the model's block of layers`
	case strings.HasPrefix(exp, `"(" (`):
		return `"(" and the call's arguments`
	case strings.Contains(exp, "<string>"):
		return "a value: a number, a string, a name, a call, a (tuple) or a [list]"
	}
	if strings.ContainsAny(exp, "*|?<") {
		return "a layer, a statement or a value, as in the README's language reference"
	}
	return exp
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
			msg += "; expected " + plainExpect(strings.TrimSuffix(exp, ")"))
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
