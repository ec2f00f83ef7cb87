package dsl

import (
	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// Calls parse themselves: participle's reflective parser spent about
// 1 µs per byte on them, most of a 1 MB spec's check. The code below is
// the Call grammar of ast.go written out by hand, and it follows
// participle's own rules step for step so that a syntax error reads and
// points exactly as participle would report it: each optional or
// repeated group runs on a branch, a branch that fails after more than
// lookahead tokens ends the parse, a shorter failure is dropped, and the
// deepest error seen is kept for participle's "unexpected token" at the
// end. reference_test.go checks this against participle running the
// same grammar from struct tags.

// lookahead is participle.UseLookahead's value for the grammar.
const lookahead = 2

// The "expected" part of participle's messages: the rest of the
// sequence that failed to match, in participle's EBNF.
const (
	expectCallOpen  = `"(" (Arg ("," Arg)* ","?)? ")"`
	expectCallClose = `")"`
	expectEquals    = `"="`
	expectValue     = `(<string> | <int> | <float> | Call | <ident> | ("(" Seq ")") | ("[" Seq "]"))`
	expectParen     = `")"`
	expectBracket   = `"]"`
)

// pstate is participle's parse context, reduced to what the grammar
// uses: the index of the next token and the deepest error so far. A
// branch is a copy.
type pstate struct {
	ts *tokenSource
	i  int
	// de is the deepest error, at token index dd.
	de error
	dd int
}

// tokenSource holds the tokens from index base on. When lex is set it
// reads more from it as the parser asks for them; otherwise toks ends
// with EOF.
type tokenSource struct {
	toks []lexer.Token
	base int
	lex  *lexer.PeekingLexer
}

func (s *tokenSource) at(i int) *lexer.Token {
	for i-s.base >= len(s.toks) {
		s.toks = append(s.toks, *s.lex.Next())
	}
	return &s.toks[i-s.base]
}

func (p *pstate) cursor() int { return p.i }

func (p *pstate) peek() *lexer.Token { return p.ts.at(p.i) }

func (p *pstate) next() *lexer.Token {
	t := p.ts.at(p.i)
	if t.Type != lexer.EOF {
		p.i++
	}
	return t
}

// is reports whether the next token is the punctuation s.
func (p *pstate) is(s string) bool {
	t := p.peek()
	return t.Type == tokPunct && t.Value == s
}

func (p *pstate) unexpected(expect string) error {
	return &participle.UnexpectedTokenError{Unexpected: *p.peek(), Expect: expect}
}

// maybeUpdateError, stop and accept are participle's parseContext
// methods of the same names.
func (p *pstate) maybeUpdateError(err error) {
	if p.cursor() >= p.dd {
		p.de, p.dd = err, p.cursor()
	}
}

func (p *pstate) stop(err error, b *pstate) bool {
	if b.dd > p.dd {
		p.de, p.dd = b.de, b.dd
	} else if b.cursor() >= p.dd {
		p.de, p.dd = err, max(b.cursor(), b.dd)
	}
	if b.cursor() > p.cursor()+lookahead {
		p.accept(b)
		return true
	}
	return false
}

func (p *pstate) accept(b *pstate) {
	p.i = b.i
	if b.dd >= p.dd {
		p.de, p.dd = b.de, b.dd
	}
}

// failed handles an error in a group's branch b: it reports whether the
// error ends the parse (true) or the group just stops matching.
func (p *pstate) failed(err error, b *pstate) bool {
	p.maybeUpdateError(err)
	return p.stop(err, b)
}

// Parse implements participle.Parseable. Calls that Parse found valid
// before participle ran come as one tokCall token (see collapseCalls);
// Call then only takes its place, and Parse puts the parsed call there.
func (c *Call) Parse(lex *lexer.PeekingLexer) error {
	if t := lex.Peek(); t.Type == tokCall {
		c.Pos = lex.Next().Pos
		return nil
	}
	start := lex.Cursor()
	// Read tokens from a copy of the lexer, then move lex past what the
	// call used.
	ahead := *lex
	p := pstate{ts: &tokenSource{base: start, lex: &ahead}, i: start}
	call, err := p.call()
	for lex.Cursor() < p.cursor() {
		lex.Next()
	}
	if err != nil {
		// A failure within lookahead is dropped by the caller, which
		// then keeps the deepest error, as participle does when the
		// whole grammar is reflective.
		if p.cursor() <= start+lookahead && p.de != nil && p.dd > start {
			return p.de
		}
		return err
	}
	if call == nil {
		return participle.NextMatch
	}
	*c = *call
	return nil
}

// call parses a Call; it returns nil, nil when there is none.
func (p *pstate) call() (*Call, error) {
	t := p.peek()
	if t.Type != tokIdent {
		return nil, nil
	}
	c := &Call{Pos: t.Pos, Name: t.Value}
	err := p.callRest(c)
	if err != nil {
		p.maybeUpdateError(err)
		return nil, err
	}
	c.EndPos = p.peek().Pos
	return c, nil
}

func (p *pstate) callRest(c *Call) error {
	p.next()
	if !p.is("(") {
		return p.unexpected(expectCallOpen)
	}
	p.next()
	// ( Arg ("," Arg)* ","? )?
	b := *p
	args, err := b.args()
	if err != nil {
		if p.failed(err, &b) {
			return err
		}
	} else {
		p.accept(&b)
		c.Args = args
	}
	if !p.is(")") {
		return p.unexpected(expectCallClose)
	}
	p.next()
	return nil
}

// args parses Arg ("," Arg)* ","?.
func (p *pstate) args() ([]*Arg, error) {
	a, err := p.arg()
	if err != nil {
		return nil, err
	}
	args := []*Arg{a}
	for {
		b := *p
		if !b.is(",") {
			break
		}
		b.next()
		a, err := b.arg()
		if err != nil {
			if p.failed(err, &b) {
				return nil, err
			}
			break
		}
		p.accept(&b)
		args = append(args, a)
	}
	if p.is(",") {
		p.next()
	}
	return args, nil
}

// arg parses (<ident> "=")? Expr. It never returns nil, nil: without an
// expression it fails, as participle does.
func (p *pstate) arg() (*Arg, error) {
	a := &Arg{Pos: p.peek().Pos}
	b := *p
	if t := b.peek(); t.Type == tokIdent {
		b.next()
		if b.is("=") {
			b.next()
			a.Key = t.Value
			p.accept(&b)
		} else if err := b.unexpected(expectEquals); p.failed(err, &b) {
			p.maybeUpdateError(err)
			return nil, err
		}
	}
	e, err := p.expr()
	if err != nil {
		p.maybeUpdateError(err)
		return nil, err
	}
	a.Value = e
	a.EndPos = p.peek().Pos
	return a, nil
}

// expr parses Atom BinOp*.
func (p *pstate) expr() (*Expr, error) {
	e := &Expr{Pos: p.peek().Pos}
	left, err := p.atom()
	if err != nil {
		p.maybeUpdateError(err)
		return nil, err
	}
	e.Left = left
	for {
		b := *p
		op, err := b.binOp()
		if err != nil {
			if p.failed(err, &b) {
				p.maybeUpdateError(err)
				return nil, err
			}
			break
		}
		p.accept(&b)
		if op == nil {
			break
		}
		e.Ops = append(e.Ops, op)
	}
	e.EndPos = p.peek().Pos
	return e, nil
}

// binOp parses ("*" | "/") Atom, or returns nil, nil.
func (p *pstate) binOp() (*BinOp, error) {
	t := p.peek()
	if t.Type != tokPunct || t.Value != "*" && t.Value != "/" {
		return nil, nil
	}
	op := &BinOp{Pos: t.Pos, Op: t.Value}
	p.next()
	r, err := p.atom()
	if err != nil {
		p.maybeUpdateError(err)
		return nil, err
	}
	op.Right = r
	return op, nil
}

// atom parses an Atom. Like arg, it fails rather than match nothing.
func (p *pstate) atom() (*Atom, error) {
	t := p.peek()
	a := &Atom{Pos: t.Pos}
	if t.Type == tokPunct && (t.Value == "-" || t.Value == "+") {
		a.Sign = t.Value
		p.next()
	}
	if err := p.atomValue(a); err != nil {
		p.maybeUpdateError(err)
		return nil, err
	}
	a.EndPos = p.peek().Pos
	return a, nil
}

// atomValue is the disjunction of an Atom's forms, tried in order.
func (p *pstate) atomValue(a *Atom) error {
	t := p.peek()
	switch t.Type {
	case tokString:
		p.next()
		a.String = &t.Value
		return nil
	case tokInt:
		p.next()
		a.Int = &t.Value
		return nil
	case tokFloat:
		p.next()
		a.Float = &t.Value
		return nil
	}
	var firstErr error
	deepest := 0
	// failed records a failed alternative the way participle's
	// disjunction does; true means the parse ends with err.
	failed := func(err error, b *pstate) bool {
		if p.stop(err, b) {
			return true
		}
		if b.cursor() >= deepest {
			firstErr, deepest = err, b.cursor()
		}
		return false
	}
	if t.Type == tokIdent {
		b := *p
		c, err := b.call()
		if err != nil {
			if failed(err, &b) {
				return err
			}
		} else {
			p.accept(&b)
			a.Call = c
			return nil
		}
		p.next()
		a.Name = &t.Value
		return nil
	}
	if t.Type == tokPunct && (t.Value == "(" || t.Value == "[") {
		b := *p
		b.next()
		s := b.seq()
		closer, expect := ")", expectParen
		if t.Value == "[" {
			closer, expect = "]", expectBracket
		}
		if s.err != nil || !b.is(closer) {
			err := s.err
			if err == nil {
				err = b.unexpected(expect)
			}
			if failed(err, &b) {
				return err
			}
		} else {
			b.next()
			p.accept(&b)
			if t.Value == "(" {
				a.Tuple = s.seq
			} else {
				a.List = s.seq
			}
			return nil
		}
	}
	if firstErr != nil {
		p.maybeUpdateError(firstErr)
		return firstErr
	}
	return p.unexpected(expectValue)
}

type seqResult struct {
	seq *Seq
	err error
}

// seq parses (Expr ("," Expr)*)? ","?, which always matches.
func (p *pstate) seq() seqResult {
	s := &Seq{Pos: p.peek().Pos}
	b := *p
	elems, err := b.exprs()
	if err != nil {
		if p.failed(err, &b) {
			p.maybeUpdateError(err)
			return seqResult{err: err}
		}
	} else {
		p.accept(&b)
		s.Elems = elems
	}
	if p.is(",") {
		p.next()
		s.Trailing = true
	}
	return seqResult{seq: s}
}

// exprs parses Expr ("," Expr)*.
func (p *pstate) exprs() ([]*Expr, error) {
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	elems := []*Expr{e}
	for {
		b := *p
		if !b.is(",") {
			break
		}
		b.next()
		e, err := b.expr()
		if err != nil {
			if p.failed(err, &b) {
				return nil, err
			}
			break
		}
		p.accept(&b)
		elems = append(elems, e)
	}
	return elems, nil
}
