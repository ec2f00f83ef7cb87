package dsl

import (
	"fmt"
	"sort"
	"strings"
)

// Error is one problem in a spec, at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error formats the error as file:line:col: msg, the form the Go compiler
// uses. An error without a line (an I/O error) prints as file: msg.
func (e *Error) Error() string {
	file, msg := Printable(e.Pos.File), Printable(e.Msg)
	if e.Pos.Line == 0 {
		if file == "" {
			return msg
		}
		return file + ": " + msg
	}
	return fmt.Sprintf("%s:%d:%d: %s", file, e.Pos.Line, e.Pos.Col, msg)
}

// ErrorList is every error found in a spec.
type ErrorList []*Error

// maxErrors is how many errors ErrorList.Error prints before it
// summarizes the rest, as the Go compiler does.
const maxErrors = 10

// Len, Less and Swap implement sort.Interface.
func (l ErrorList) Len() int      { return len(l) }
func (l ErrorList) Swap(i, j int) { l[i], l[j] = l[j], l[i] }
func (l ErrorList) Less(i, j int) bool {
	a, b := l[i].Pos, l[j].Pos
	if a.File != b.File {
		return a.File < b.File
	}
	if a.Line != b.Line {
		return a.Line < b.Line
	}
	if a.Col != b.Col {
		return a.Col < b.Col
	}
	return l[i].Msg < l[j].Msg
}

// Sort sorts the list by file, line, column and message.
func (l ErrorList) Sort() { sort.Stable(l) }

// Err returns the list as an error, or nil if it is empty.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// Error returns the sorted errors, one per line, the first ten of them
// followed by "and N more errors" when there are more.
func (l ErrorList) Error() string {
	s := make(ErrorList, len(l))
	copy(s, l)
	s.Sort()
	var b strings.Builder
	for i, e := range s {
		if i == maxErrors {
			fmt.Fprintf(&b, "\nand %d more errors", len(s)-maxErrors)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (l *ErrorList) add(pos Pos, format string, args ...any) {
	*l = append(*l, &Error{Pos: pos, Msg: fmt.Sprintf(format, args...)})
}

// suggest returns the candidate closest to s by edit distance, or "" when
// none is close enough to be what the user meant. Case differences count
// as half an edit, so "conv2d" suggests "Conv2D".
func suggest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		limit := len(c)/3 + 1
		if limit > 3 {
			limit = 3
		}
		if d := len(s) - len(c); d > limit || -d > limit {
			continue
		}
		d := editDistance(s, c)
		if d <= limit*2 && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean returns "; did you mean X?" or "" (quote wraps X in quotes
// when the candidates are strings).
func didYouMean(s string, candidates []string, quote bool) string {
	c := suggest(s, candidates)
	if c == "" {
		return ""
	}
	if quote {
		c = `"` + c + `"`
	}
	return "; did you mean " + c + "?"
}

// editDistance is the Levenshtein distance in half edits: a substitution
// that only changes case costs 1, every other edit 2.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = 2 * j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = 2 * i
		for j := 1; j <= len(b); j++ {
			sub := 2
			if a[i-1] == b[j-1] {
				sub = 0
			} else if lower(a[i-1]) == lower(b[j-1]) {
				sub = 1
			}
			cur[j] = min(prev[j]+2, cur[j-1]+2, prev[j-1]+sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
