package dsl

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Printable returns s with every rune that a terminal or an editor could
// act on written as a Go escape, as %q writes it: control characters
// (\n, \x1b), line and paragraph separators, other unprintable runes and
// invalid UTF-8. Everything else, quotes and backslashes included, stays as
// it is, so ordinary text is unchanged. Messages pass file names and spec
// text through it.
func Printable(s string) string {
	clean := true
	for i, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) && r != ' ' {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(s[i:]); n == 3 {
					continue // a real U+FFFD
				}
			}
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !unicode.IsPrint(r) && r != ' ' {
			q := strconv.QuoteToASCII(s[i : i+n])
			b.WriteString(q[1 : len(q)-1])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// CommentText returns s fit to appear inside a Go or Python comment, a Go
// block comment or a Python docstring without ending it or being read as
// an escape: s itself when it is printable and holds no quote, backslash,
// backquote or "*/", and otherwise s quoted as %q quotes it, with "*/"
// written "*\x2f". Code generators pass every user string that they put in
// comments through it.
func CommentText(s string) string {
	if Printable(s) == s && !strings.ContainsAny(s, "\"\\`") && !strings.Contains(s, "*/") {
		return s
	}
	return strings.ReplaceAll(strconv.Quote(s), "*/", `*\x2f`)
}

// CommentSource returns spec text (Layer.Source) fit for a Go or Python
// line comment or a Go block comment: Printable, with "*/" written
// "*\x2f". Quotes stay, as the spec has them.
func CommentSource(s string) string {
	return strings.ReplaceAll(Printable(s), "*/", `*\x2f`)
}
