package dsl

import (
	"errors"
	"io"
	"unicode/utf8"

	"github.com/alecthomas/participle/v2/lexer"
)

// The lexer is written by hand: participle's regexp lexer took a third
// of the time of a 1 MB spec. It drops whitespace and comments, counts
// columns in runes, and reports the lexical errors participle cannot
// phrase well (bad characters, unterminated strings, runaway nesting,
// two layers on one line).

// Token types, as participle sees them through specDefinition.
const (
	tokFloat lexer.TokenType = -(iota + 2)
	tokInt
	tokString
	tokIdent
	tokPunct
	// tokCall stands for a whole call that Parse has parsed already.
	tokCall
)

type specDefinition struct{}

func (specDefinition) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF": lexer.EOF, "Float": tokFloat, "Int": tokInt, "String": tokString, "Ident": tokIdent, "Punct": tokPunct,
	}
}

// Lex is there to satisfy lexer.Definition; Parse lexes with newLexer.
func (specDefinition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return newLexer(filename, src, &ErrorList{}), nil
}

// specLexer produces tokens one at a time, as participle asks for them:
// participle keeps its own copy of every token, and a second slice of
// them cost a 1 MB spec more than its parse. Lexical errors go to errs;
// after one that stops lexing (all but "put each layer on its own
// line"), Next returns errLexing.
type specLexer struct {
	filename string
	src      string
	errs     *ErrorList
	i        int
	line     int
	col      int
	open     []byte // the brackets open at this point
	// closedAt is the line of the last ")" or "}" that ended a layer or a
	// statement (depth 0 or 1 after it), or 0.
	closedAt int
	done     bool
}

// errLexing ends participle's reading of tokens after a lexical error,
// which is in the lexer's error list.
var errLexing = errors.New("lexical error")

func newLexer(filename string, src []byte, errs *ErrorList) *specLexer {
	return &specLexer{filename: filename, src: string(src), errs: errs, line: 1, col: 1}
}

// lexAll returns every token of src, ending with EOF, or nil after a
// lexical error.
func lexAll(filename string, src []byte, errs *ErrorList) []lexer.Token {
	l := newLexer(filename, src, errs)
	tokens := make([]lexer.Token, 0, len(src)/4+1)
	for {
		t, err := l.Next()
		if err != nil {
			return nil
		}
		tokens = append(tokens, t)
		if t.EOF() {
			return tokens
		}
	}
}

// sliceLexer hands participle tokens lexed already.
type sliceLexer struct {
	tokens []lexer.Token
	i      int
}

func (s *sliceLexer) Next() (lexer.Token, error) {
	t := s.tokens[s.i]
	if s.i < len(s.tokens)-1 {
		s.i++
	}
	return t, nil
}

func (l *specLexer) fail(format string, args ...any) (lexer.Token, error) {
	l.errs.add(Pos{File: l.filename, Line: l.line, Col: l.col}, format, args...)
	l.done = true
	return lexer.Token{}, errLexing
}

// Next returns the next token.
func (l *specLexer) Next() (lexer.Token, error) {
	if l.done {
		return lexer.Token{}, errLexing
	}
	src := l.src
	i, line, col := l.i, l.line, l.col
	defer func() { l.i, l.line, l.col = i, line, col }()
	for i < len(src) {
		ch := src[i]
		switch ch {
		case '\n':
			line, col = line+1, 1
			i++
			continue
		case ' ', '\t', '\r', '\f', '\v':
			col++
			i++
			continue
		case '#':
			for i < len(src) && src[i] != '\n' {
				i, col = advance(src, i, col)
			}
			continue
		}
		pos := lexer.Position{Filename: l.filename, Offset: i, Line: line, Column: col}
		start := i
		var typ lexer.TokenType
		switch {
		case isDigit(ch) || ch == '.' && i+1 < len(src) && isDigit(src[i+1]):
			typ = tokInt
			for i < len(src) && isDigit(src[i]) {
				i++
			}
			if i < len(src) && src[i] == '.' {
				typ = tokFloat
				i++
				for i < len(src) && isDigit(src[i]) {
					i++
				}
			}
			if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
				j := i + 1
				if j < len(src) && (src[j] == '+' || src[j] == '-') {
					j++
				}
				if j < len(src) && isDigit(src[j]) {
					typ = tokFloat
					for i = j; i < len(src) && isDigit(src[i]); i++ {
					}
				}
			}
			col += i - start
		case ch == '"' || ch == '\'':
			typ = tokString
			i, col = i+1, col+1
			for {
				if i >= len(src) || src[i] == '\n' {
					l.line, l.col = pos.Line, pos.Column
					return l.fail("syntax error: unterminated string; close it with %c on the same line", ch)
				}
				c := src[i]
				if c == '\\' && i+1 < len(src) && src[i+1] != '\n' {
					i, col = i+1, col+1
					i, col = advance(src, i, col)
					continue
				}
				i, col = advance(src, i, col)
				if c == ch {
					break
				}
			}
		case isLetter(ch):
			typ = tokIdent
			for i < len(src) && (isLetter(src[i]) || isDigit(src[i])) {
				i++
			}
			// The chapter's code names layers and optimizers with their
			// modules: layers.Conv2D, keras.optimizers.RMSprop. The module
			// is dropped, and the token is the last name.
			for i+1 < len(src) && src[i] == '.' && isLetter(src[i+1]) {
				j := i + 1
				for j < len(src) && (isLetter(src[j]) || isDigit(src[j])) {
					j++
				}
				module := src[start:i]
				if !kerasModules[module] {
					l.line, l.col = line, col
					return l.fail("syntax error: %s is not a module convc knows; write the layer or optimizer by its name alone, as in Conv2D(32, 3) for layers.Conv2D(32, 3)", module)
				}
				col += i + 1 - start
				start, i = i+1, j
				pos = lexer.Position{Filename: l.filename, Offset: start, Line: line, Column: col}
			}
			col += i - start
		default:
			switch ch {
			case '(', '[', '{':
				l.open = append(l.open, ch)
				if len(l.open) > maxDepth {
					l.line, l.col = line, col
					return l.fail("syntax error: brackets nested more than %d deep", maxDepth)
				}
			case ')', ']', '}':
				if len(l.open) > 0 {
					l.open = l.open[:len(l.open)-1]
				}
			case '-', '+', '*', '/', '=', ',':
			default:
				r, _ := utf8.DecodeRuneInString(src[i:])
				l.line, l.col = line, col
				return l.fail("syntax error: unexpected character %q", string(r))
			}
			typ = tokPunct
			i, col = i+1, col+1
		}
		value := src[start:i]
		// Newlines separate layers and statements: nothing but a closing
		// brace may follow the ")" that ends one on the same line.
		if l.closedAt == line && value != "}" {
			what := "layer"
			if len(l.open) == 0 {
				what = "statement"
			}
			l.errs.add(Pos{File: l.filename, Line: pos.Line, Col: pos.Column}, "syntax error: put each %s on its own line", what)
		}
		l.closedAt = 0
		if (value == ")" || value == "}") && (len(l.open) == 0 || len(l.open) == 1 && l.open[0] == '{') {
			l.closedAt = line
		}
		return lexer.Token{Type: typ, Value: value, Pos: pos}, nil
	}
	return lexer.Token{Type: lexer.EOF, Pos: lexer.Position{Filename: l.filename, Offset: len(src), Line: line, Column: col}}, nil
}

// advance moves past the rune at i, counting one column.
func advance(src string, i, col int) (int, int) {
	if src[i] < utf8.RuneSelf {
		return i + 1, col + 1
	}
	_, n := utf8.DecodeRuneInString(src[i:])
	return i + n, col + 1
}

// kerasModules are the module paths of the chapter's code that may prefix a
// layer or an optimizer.
var kerasModules = map[string]bool{
	"layers": true, "keras.layers": true, "tf.keras.layers": true,
	"optimizers": true, "keras.optimizers": true, "tf.keras.optimizers": true,
	"keras": true, "tf.keras": true, "tf": true,
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
