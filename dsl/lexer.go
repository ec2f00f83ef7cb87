package dsl

import (
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
)

type specDefinition struct{}

func (specDefinition) Symbols() map[string]lexer.TokenType {
	return map[string]lexer.TokenType{
		"EOF": lexer.EOF, "Float": tokFloat, "Int": tokInt, "String": tokString, "Ident": tokIdent, "Punct": tokPunct,
	}
}

// Lex is there to satisfy lexer.Definition; Parse lexes with lex.
func (specDefinition) Lex(filename string, r io.Reader) (lexer.Lexer, error) {
	src, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	tokens, ok := lex(filename, src, &errs)
	if !ok {
		return nil, errs
	}
	return &sliceLexer{tokens: tokens}, nil
}

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

// lex tokenizes src. It stops at the first lexical error.
func lex(filename string, source []byte, errs *ErrorList) ([]lexer.Token, bool) {
	src := string(source)
	tokens := make([]lexer.Token, 0, len(src)/4)
	line, col := 1, 1
	var open []byte // the brackets open at this point
	// closedAt is the line of the last ")" or "}" that ended a layer or a
	// statement (depth 0 or 1 after it), or 0.
	closedAt := 0
	fail := func(off int, format string, args ...any) ([]lexer.Token, bool) {
		errs.add(Pos{File: filename, Line: line, Col: col}, format, args...)
		return nil, false
	}
	for i := 0; i < len(src); {
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
		pos := lexer.Position{Filename: filename, Offset: i, Line: line, Column: col}
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
					line, col = pos.Line, pos.Column
					return fail(start, "syntax error: unterminated string; close it with %c on the same line", ch)
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
			col += i - start
		default:
			switch ch {
			case '(', '[', '{':
				open = append(open, ch)
				if len(open) > maxDepth {
					return fail(start, "syntax error: brackets nested more than %d deep", maxDepth)
				}
			case ')', ']', '}':
				if len(open) > 0 {
					open = open[:len(open)-1]
				}
			case '-', '+', '*', '/', '=', ',':
			default:
				r, _ := utf8.DecodeRuneInString(src[i:])
				return fail(start, "syntax error: unexpected character %q", string(r))
			}
			typ = tokPunct
			i, col = i+1, col+1
		}
		value := src[start:i]
		// Newlines separate layers and statements: nothing but a closing
		// brace may follow the ")" that ends one on the same line.
		if closedAt == line && value != "}" {
			what := "layer"
			if len(open) == 0 {
				what = "statement"
			}
			errs.add(Pos{File: filename, Line: pos.Line, Col: pos.Column}, "syntax error: put each %s on its own line", what)
		}
		closedAt = 0
		if (value == ")" || value == "}") && (len(open) == 0 || len(open) == 1 && open[0] == '{') {
			closedAt = line
		}
		tokens = append(tokens, lexer.Token{Type: typ, Value: value, Pos: pos})
	}
	tokens = append(tokens, lexer.Token{Type: lexer.EOF, Pos: lexer.Position{Filename: filename, Offset: len(src), Line: line, Column: col}})
	return tokens, true
}

// advance moves past the rune at i, counting one column.
func advance(src string, i, col int) (int, int) {
	if src[i] < utf8.RuneSelf {
		return i + 1, col + 1
	}
	_, n := utf8.DecodeRuneInString(src[i:])
	return i + n, col + 1
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
