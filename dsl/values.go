package dsl

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file evaluates argument expressions into values and converts
// values to the types layers ask for, reporting type errors.

type valueKind int

const (
	vInt valueKind = iota
	vFloat
	vString
	vBool
	vNone
	vTuple
	vList
	vCall
	vBad // already reported
)

// value is an evaluated argument.
type value struct {
	kind valueKind
	pos  Pos
	// from and to are the byte offsets of the value's source text,
	// which messages quote (see checker.text).
	from, to int
	i        int
	f        float64
	s        string
	b        bool
	elems    []*value
	call     *Call
}

func (v *value) isNumber() bool { return v.kind == vInt || v.kind == vFloat }

func (v *value) num() float64 {
	if v.kind == vInt {
		return float64(v.i)
	}
	return v.f
}

// maxInt bounds every integer literal; larger ones are surely mistakes
// and would overflow shape arithmetic.
const maxInt = 1 << 40

func (c *checker) evalExpr(e *Expr) *value {
	v := c.evalAtom(e.Left)
	for _, op := range e.Ops {
		r := c.evalAtom(op.Right)
		if v.kind == vBad || r.kind == vBad {
			v = &value{kind: vBad}
			continue
		}
		if !v.isNumber() || !r.isNumber() {
			c.errs.add(c.pos(op.Pos), "%s works on numbers only, got %s %s %s", op.Op, c.text(v), op.Op, c.text(r))
			v = &value{kind: vBad}
			continue
		}
		switch {
		case op.Op == "/" && r.num() == 0:
			c.errs.add(c.pos(op.Right.Pos), "division by zero")
			v = &value{kind: vBad}
		case op.Op == "/":
			v = &value{kind: vFloat, f: v.num() / r.num()}
		case v.kind == vInt && r.kind == vInt:
			p := v.i * r.i
			if v.i != 0 && (p/v.i != r.i || p > maxInt || p < -maxInt) {
				c.errs.add(c.pos(op.Pos), "the product is too large")
				v = &value{kind: vBad}
			} else {
				v = &value{kind: vInt, i: p}
			}
		default:
			v = &value{kind: vFloat, f: v.num() * r.num()}
		}
	}
	v.pos = c.pos(e.Pos)
	v.from, v.to = e.Pos.Offset, e.EndPos.Offset
	return v
}

func (c *checker) evalAtom(a *Atom) *value {
	v := c.evalAtomValue(a)
	if a.Sign != "" && v.kind != vBad {
		if !v.isNumber() {
			c.errs.add(c.pos(a.Pos), "%s works on numbers only, got %s", a.Sign, c.quote(c.source(a.Pos, a.EndPos)))
			return &value{kind: vBad, pos: c.pos(a.Pos)}
		}
		if a.Sign == "-" {
			v.i, v.f = -v.i, -v.f
		}
	}
	v.pos = c.pos(a.Pos)
	v.from, v.to = a.Pos.Offset, a.EndPos.Offset
	return v
}

func (c *checker) evalAtomValue(a *Atom) *value {
	v := &value{pos: c.pos(a.Pos), from: a.Pos.Offset, to: a.EndPos.Offset}
	switch {
	case a.Int != nil:
		n, err := strconv.ParseInt(*a.Int, 10, 64)
		if err != nil || n > maxInt {
			c.errs.add(v.pos, "integer %s is too large", c.quote(*a.Int))
			v.kind = vBad
			break
		}
		v.kind, v.i = vInt, int(n)
	case a.Float != nil:
		f, err := strconv.ParseFloat(*a.Float, 64)
		if err != nil || math.IsInf(f, 0) {
			c.errs.add(v.pos, "number %s is out of range", c.quote(*a.Float))
			v.kind = vBad
			break
		}
		v.kind, v.f = vFloat, f
	case a.String != nil:
		s, ok := unquote(*a.String)
		if !ok {
			c.errs.add(v.pos, "invalid escape in string %s; the escapes are \\\\ \\' \\\" \\n \\t", c.quote(*a.String))
			v.kind = vBad
			break
		}
		v.kind, v.s = vString, s
	case a.Name != nil:
		switch *a.Name {
		case "None":
			v.kind = vNone
		case "True":
			v.kind, v.b = vBool, true
		case "False":
			v.kind = vBool
		default:
			hint := didYouMean(*a.Name, []string{"None", "True", "False"}, false)
			if hint == "" {
				hint = fmt.Sprintf(`; strings need quotes: "%s"`, c.clip(*a.Name))
			}
			c.errs.add(v.pos, "unknown name %s%s", c.clip(*a.Name), hint)
			v.kind = vBad
		}
	case a.Call != nil:
		v.kind, v.call = vCall, a.Call
	case a.Tuple != nil, a.List != nil:
		seq, kind := a.Tuple, vTuple
		if seq == nil {
			seq, kind = a.List, vList
		}
		if kind == vTuple && len(seq.Elems) == 1 && !seq.Trailing {
			inner := c.evalExpr(seq.Elems[0])
			inner.pos, inner.from, inner.to = v.pos, v.from, v.to
			return inner
		}
		v.kind = kind
		for _, e := range seq.Elems {
			ev := c.evalExpr(e)
			if ev.kind == vBad {
				v.kind = vBad
			}
			v.elems = append(v.elems, ev)
		}
	default:
		v.kind = vBad
	}
	return v
}

// unquote removes the quotes of a Python string literal and resolves the
// common escapes.
func unquote(s string) (string, bool) {
	s = s[1 : len(s)-1]
	if !strings.Contains(s, `\`) {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		if i == len(s) {
			return "", false
		}
		switch s[i] {
		case '\\', '\'', '"':
			b.WriteByte(s[i])
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		default:
			return "", false
		}
	}
	return b.String(), true
}

// describe names a value's type for error messages.
func (v *value) describe() string {
	switch v.kind {
	case vInt:
		return "an int"
	case vFloat:
		return "a float"
	case vString:
		return "a string"
	case vBool:
		return "a bool"
	case vNone:
		return "None"
	case vTuple:
		return "a tuple"
	case vList:
		return "a list"
	case vCall:
		return "a call"
	}
	return "a value"
}

// typeErr reports that v, the argument what, should have been want.
func (c *checker) typeErr(v *value, what, want string) {
	if v.kind == vBad {
		return
	}
	c.errs.add(v.pos, "%s must be %s, got %s (%s)", what, want, c.text(v), v.describe())
}

// toInt converts v to an int of at least min.
func (c *checker) toInt(v *value, what string, min int) (int, bool) {
	if v.kind != vInt {
		c.typeErr(v, what, "an int")
		return 0, false
	}
	if v.i < min {
		switch min {
		case 1:
			c.errs.add(v.pos, "%s must be positive, got %d", what, v.i)
		case 0:
			c.errs.add(v.pos, "%s must not be negative, got %d", what, v.i)
		default:
			c.errs.add(v.pos, "%s must be at least %d, got %d", what, min, v.i)
		}
		return 0, false
	}
	if v.i > maxDim && min >= 1 {
		c.errs.add(v.pos, "%s is %d; the limit is %d", what, v.i, maxDim)
		return 0, false
	}
	return v.i, true
}

// toPair converts an int or a pair of ints, each positive, to a pair.
func (c *checker) toPair(v *value, what string) ([2]int, bool) {
	if v.kind == vInt {
		n, ok := c.toInt(v, what, 1)
		return [2]int{n, n}, ok
	}
	if (v.kind != vTuple && v.kind != vList) || len(v.elems) != 2 {
		c.typeErr(v, what, "an int or a pair of ints")
		return [2]int{}, false
	}
	a, ok1 := c.toInt(v.elems[0], what, 1)
	b, ok2 := c.toInt(v.elems[1], what, 1)
	return [2]int{a, b}, ok1 && ok2
}

func (c *checker) toFloat(v *value, what string) (float64, bool) {
	if !v.isNumber() {
		c.typeErr(v, what, "a number")
		return 0, false
	}
	return c.float32Range(v, v.num(), what)
}

// float32Range reports a number that float32, in which convc computes,
// cannot hold: it would become infinite.
func (c *checker) float32Range(v *value, f float64, what string) (float64, bool) {
	if math.IsInf(float64(float32(f)), 0) || math.IsNaN(f) {
		c.errs.add(v.pos, "%s is %s, beyond the range of float32 (about 3.4e38) in which convc computes; use a smaller number", what, c.text(v))
		return 0, false
	}
	return f, true
}

// toFactor converts a number f to (-f, f) and a pair to itself, the way
// Keras's random layers read their factors.
func (c *checker) toFactor(v *value, what string) ([2]float64, bool) {
	if v.isNumber() {
		f, ok := c.float32Range(v, v.num(), what)
		if !ok {
			return [2]float64{}, false
		}
		if f < 0 {
			c.errs.add(v.pos, "%s must not be negative, got %s; write a (lower, upper) pair for an asymmetric range", what, c.text(v))
			return [2]float64{}, false
		}
		return [2]float64{-f, f}, true
	}
	if (v.kind == vTuple || v.kind == vList) && len(v.elems) == 2 && v.elems[0].isNumber() && v.elems[1].isNumber() {
		lo, ok1 := c.float32Range(v.elems[0], v.elems[0].num(), what)
		hi, ok2 := c.float32Range(v.elems[1], v.elems[1].num(), what)
		if !ok1 || !ok2 {
			return [2]float64{}, false
		}
		if lo > hi {
			c.errs.add(v.pos, "%s is (lower, upper) but %s > %s", what, c.text(v.elems[0]), c.text(v.elems[1]))
			return [2]float64{}, false
		}
		return [2]float64{lo, hi}, true
	}
	c.typeErr(v, what, "a number or a (lower, upper) pair")
	return [2]float64{}, false
}

func (c *checker) toBool(v *value, what string) (bool, bool) {
	if v.kind != vBool {
		c.typeErr(v, what, "True or False")
		return false, false
	}
	return v.b, true
}

// toEnum converts a string to one of choices, suggesting the closest
// choice when it is none of them.
func (c *checker) toEnum(v *value, what string, choices []string) (string, bool) {
	if v.kind != vString {
		c.typeErr(v, what, "a string")
		return "", false
	}
	for _, ch := range choices {
		if v.s == ch {
			return ch, true
		}
	}
	hint := didYouMean(v.s, choices, true)
	if hint == "" && len(choices) == 1 {
		hint = fmt.Sprintf("; the only %s is %q", what, choices[0])
	} else if hint == "" {
		hint = "; use one of " + quoteList(choices)
	}
	c.errs.add(v.pos, "unknown %s %s%s", what, c.text(v), hint)
	return "", false
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// clip shortens s for messages.
func (c *checker) clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

// quote returns source text for messages, clipped.
func (c *checker) quote(s string) string { return c.clip(s) }

// text returns a value's source text for messages, collapsed and
// clipped. It is computed only for messages: most values never need it.
func (c *checker) text(v *value) string {
	if v.from < 0 || v.to > len(c.src) || v.from > v.to {
		return ""
	}
	return c.quote(collapse(c.src[v.from:v.to]))
}
