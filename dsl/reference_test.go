package dsl

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/alecthomas/participle/v2"
	"github.com/alecthomas/participle/v2/lexer"
)

// The reference twin of the parser: the whole grammar as participle
// struct tags, parsed reflectively. Call parses itself by hand for
// speed (callparse.go); these tests check that it builds the same tree
// and reports the same syntax errors, at the same positions.

type refFile struct {
	Pos    lexer.Position
	Stmts  []*refStmt `parser:"@@*"`
	EndPos lexer.Position
}

type refStmt struct {
	Pos    lexer.Position
	Model  *refModelDecl `parser:"@@"`
	Call   *refCall      `parser:"| @@"`
	EndPos lexer.Position
}

type refModelDecl struct {
	Pos    lexer.Position
	Name   *refIdent  `parser:"'model' @@ '{'"`
	Layers []*refCall `parser:"@@* '}'"`
	EndPos lexer.Position
}

type refIdent struct {
	Pos  lexer.Position
	Name string `parser:"@Ident"`
}

type refCall struct {
	Pos    lexer.Position
	Name   string    `parser:"@Ident '('"`
	Args   []*refArg `parser:"( @@ ( ',' @@ )* ','? )? ')'"`
	EndPos lexer.Position
}

type refArg struct {
	Pos    lexer.Position
	Key    string   `parser:"( @Ident '=' )?"`
	Value  *refExpr `parser:"@@"`
	EndPos lexer.Position
}

type refExpr struct {
	Pos    lexer.Position
	Left   *refAtom    `parser:"@@"`
	Ops    []*refBinOp `parser:"@@*"`
	EndPos lexer.Position
}

type refBinOp struct {
	Pos   lexer.Position
	Op    string   `parser:"@('*' | '/')"`
	Right *refAtom `parser:"@@"`
}

type refAtom struct {
	Pos    lexer.Position
	Sign   string   `parser:"@('-' | '+')?"`
	String *string  `parser:"( @String"`
	Int    *string  `parser:"| @Int"`
	Float  *string  `parser:"| @Float"`
	Call   *refCall `parser:"| @@"`
	Name   *string  `parser:"| @Ident"`
	Tuple  *refSeq  `parser:"| '(' @@ ')'"`
	List   *refSeq  `parser:"| '[' @@ ']' )"`
	EndPos lexer.Position
}

type refSeq struct {
	Pos      lexer.Position
	Elems    []*refExpr `parser:"( @@ ( ',' @@ )* )?"`
	Trailing bool       `parser:"@','?"`
}

var refParser = participle.MustBuild[refFile](
	participle.Lexer(specDefinition{}),
	participle.UseLookahead(lookahead),
)

// dumpTree prints a syntax tree with its positions, ignoring type names,
// so that the two trees can be compared.
func dumpTree(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		dumpTree(b, v.Elem())
	case reflect.Slice:
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			dumpTree(b, v.Index(i))
			b.WriteString(" ")
		}
		b.WriteString("]")
	case reflect.Struct:
		if p, ok := v.Interface().(lexer.Position); ok {
			fmt.Fprintf(b, "%d:%d:%d", p.Offset, p.Line, p.Column)
			return
		}
		b.WriteString("{")
		for i := 0; i < v.NumField(); i++ {
			b.WriteString(v.Type().Field(i).Name + ":")
			dumpTree(b, v.Field(i))
			b.WriteString(" ")
		}
		b.WriteString("}")
	default:
		fmt.Fprintf(b, "%q", fmt.Sprint(v.Interface()))
	}
}

// compareWithReference parses src with both parsers and reports any
// difference in the tree or the error.
func compareWithReference(t *testing.T, src []byte) {
	t.Helper()
	tokens := lexAll("f.cnn", src, &ErrorList{})
	if tokens == nil {
		return
	}
	run := func(fast bool) string {
		var tree any
		var err error
		if fast {
			tree, err = parseTokens(tokens)
		} else {
			var peek *lexer.PeekingLexer
			peek, err = lexer.Upgrade(&sliceLexer{tokens: tokens})
			if err != nil {
				t.Fatal(err)
			}
			tree, err = refParser.ParseFromLexer(peek)
		}
		if err != nil {
			// The twin's types are named refX where ours are X.
			msg := syntaxError("f.cnn", err).Error()
			if head, exp, ok := strings.Cut(msg, "; expected "); ok {
				msg = head + "; expected " + strings.ReplaceAll(exp, "Ref", "")
			}
			return msg
		}
		var b strings.Builder
		dumpTree(&b, reflect.ValueOf(tree))
		return b.String()
	}
	if got, want := run(true), run(false); got != want {
		t.Errorf("input %q\ngot  %s\nwant %s", src, got, want)
	}
}

var referenceCases = []string{
	"fit(",
	"fit(a b",
	"fit(-}",
	"fit(-(-(x}",
	"fit 3",
	"fit(a,)\n)",
	"fit(a=)",
	"fit(a=, b)",
	"fit(=)",
	"fit(1 * )",
	"fit(1 * * 2)",
	"fit((1, 2,), [], (), [,], (,))",
	"fit((1,,2))",
	"fit(x(,))",
	"fit(x(1 2))",
	"fit(a=b=c)",
	"fit(1./255, -2*+3, 'a', None)",
	"model m {\n  Dense 8\n}",
	"model m {\n  Dense(8,\n}",
	"model m {\n  Dense(\n}",
	"model m {\n  Dense(-\n}",
	"model m {\n  Dense(8, x=(1, [2, 3)\n}",
	"model m {\n  Dense(8, x=)\n}",
	"model m {\n  Dense(8, x)\n  Flatten(\n}",
	"model m { Input(shape=(3,)) }\nfit(-}",
	"model m {\n Input(shape=(3,))\n}\ncompile(x = \n",
	"model m {\n Input(shape=(3,))\n}\ncompile(-(\n",
	"model m {\n Input(shape=(3,))\n}\ncompile(\n",
	"x(1)\ny(-(z",
	"a\n",
	"a(\n",
	"(\n",
	"model\n",
	"model m\n",
	"model m {\n",
	"model m { (",
	"model m { a(b(c(d(e(f(",
	"fit(a(b(c",
	"fit(a=b(c=d(e=",
	"fit([(",
	"fit(+)",
	"fit(1, 2, 3,,)",
}

func TestReferenceParser(t *testing.T) {
	for _, c := range referenceCases {
		compareWithReference(t, []byte(c))
	}
	paths, _ := filepath.Glob("testdata/*.txtar")
	specs, _ := filepath.Glob("../specs/*.cnn")
	for _, p := range paths {
		b, _ := os.ReadFile(p)
		if spec, ok := parseTxtar(b).get("spec.cnn"); ok {
			compareWithReference(t, spec)
		}
	}
	for _, p := range specs {
		b, _ := os.ReadFile(p)
		compareWithReference(t, b)
	}
}

// FuzzReferenceParser compares the parser with its reference twin on
// arbitrary input.
func FuzzReferenceParser(f *testing.F) {
	for _, c := range referenceCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<12 {
			return
		}
		compareWithReference(t, src)
	})
}
