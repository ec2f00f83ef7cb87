package dsl

import (
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"specs/mnist.cnn", "specs/mnist.cnn"},
		{`a "quoted" \ path é 数`, `a "quoted" \ path é 数`},
		{"esc\x1b[31mred\a", `esc\x1b[31mred\a`},
		{"new\nline\r\t", `new\nline\r\t`},
		{"sep\u2028", `sep\u2028`},
		{"bad\xffutf8", `bad\xffutf8`},
		{"real \ufffd", "real \ufffd"},
	} {
		if got := Printable(tc.in); got != tc.want {
			t.Errorf("Printable(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"specs/mnist.cnn", "specs/mnist.cnn"},
		{`a"""b`, `"a\"\"\"b"`},
		{`x*/y`, `"x*\x2fy"`},
		{"n\nl", `"n\nl"`},
		{`C:\N`, `"C:\\N"`},
	} {
		if got := CommentText(tc.in); got != tc.want {
			t.Errorf("CommentText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestErrorsArePrintable checks that a spec whose file name and strings
// hold terminal escapes gets messages that show them escaped.
func TestErrorsArePrintable(t *testing.T) {
	_, errs := Check("evil\x1b]0;title\a.cnn", []byte("model m {\n    Input(shape=(8, 8, 1))\n    Conv2D(8, 3, padding=\"\x1b[2J\")\n}\n"))
	if len(errs) != 1 {
		t.Fatalf("got %v", errs)
	}
	msg := errs.Error()
	if strings.ContainsAny(msg, "\x1b\a") || !strings.Contains(msg, `evil\x1b]0;title\a.cnn:3:26: `) || !strings.Contains(msg, `\x1b[2J`) {
		t.Errorf("message %q holds raw control characters or lost its position", msg)
	}
}
