// Command convc checks .cnn specs, prints their Keras summaries and
// generates trainers from them. Each command lives in its own file and
// registers itself from init, so main stays a dispatcher.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one convc subcommand.
type command struct {
	// Name is the word after convc: "check".
	Name string
	// Usage is the argument synopsis after the name: "[-v] FILE".
	Usage string
	// Short is a one-line description for convc help.
	Short string
	// Long, if set, is printed by convc help NAME after the usage line.
	Long string
	// Run runs the command with the arguments after its name and returns
	// the exit code: 0 for success, 1 for failure, 2 for bad usage.
	Run func(args []string) int
}

// commands is every registered command, sorted by name.
var commands []*command

// stdout and stderr are where commands write, replaced by tests.
var (
	stdout io.Writer = os.Stdout
	stderr io.Writer = os.Stderr
)

// register adds a command; each command file calls it from init.
func register(c *command) {
	commands = append(commands, c)
	sort.Slice(commands, func(i, j int) bool { return commands[i].Name < commands[j].Name })
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// newFlagSet returns a flag set for a command that reports errors
// instead of exiting and prints the command's help for -h.
func newFlagSet(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("convc "+c.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { commandHelp(stderr, c, fs) }
	return fs
}

// parseFlags parses a command's flags. It returns the exit code to stop
// with, or -1 to go on: 0 after -h, 2 after a bad flag.
func parseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	return -1
}

// parseInterspersed parses flags that may come before or after the
// positional arguments (convc build FILE -target pytorch) and returns the
// positional arguments, with the exit code as parseFlags returns it. A
// "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, int) {
	var pos []string
	for {
		if code := parseFlags(fs, args); code >= 0 {
			return nil, code
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, -1
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), -1
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func commandHelp(w io.Writer, c *command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: convc %s %s\n\n%s\n", c.Name, c.Usage, c.Short)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(c.Long, "\n"))
	}
	if fs != nil {
		has := false
		fs.VisitAll(func(*flag.Flag) { has = true })
		if has {
			fmt.Fprintf(w, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "convc compiles convolutional networks written as .cnn specs.\n\nusage: convc COMMAND [ARGS]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.Name, c.Short)
	}
	fmt.Fprintf(w, "\nRun \"convc help COMMAND\" or \"convc COMMAND -h\" for a command's usage.\n")
}

func init() {
	register(&command{
		Name:  "help",
		Usage: "[COMMAND]",
		Short: "explain convc or one of its commands",
		Run:   runHelp,
	})
}

func runHelp(args []string) int {
	switch len(args) {
	case 0:
		usage(stderr)
		return 0
	case 1:
		c := lookup(args[0])
		if c == nil {
			fmt.Fprintf(stderr, "convc help: unknown command %q\n\n", args[0])
			usage(stderr)
			return 2
		}
		if c.Name == "help" {
			usage(stderr)
			return 0
		}
		// Running the command with -h prints its usage with its flags.
		return c.Run([]string{"-h"})
	}
	fmt.Fprintf(stderr, "usage: convc help [COMMAND]\n")
	return 2
}

// run dispatches the command line and returns the exit code.
func run(args []string) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stderr)
		return 0
	}
	c := lookup(args[0])
	if c == nil {
		fmt.Fprintf(stderr, "convc: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.Run(args[1:])
}

func main() {
	os.Exit(run(os.Args[1:]))
}
