package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"

	"github.com/convc/convc"
	"github.com/convc/convc/runtime"
)

func init() {
	register(&command{
		Name:  "train",
		Usage: "[trainer flags] FILE [trainer flags]",
		Short: "build the spec's trainer and train the model in one step",
		Run:   runTrain,
	})
}

const trainHelp = `usage: convc train [flags] FILE [flags]

Train builds the trainer of the spec FILE (in convc's cache folder, so any
spec on disk works) and runs "<model> train" with the flags, which may come
before or after FILE. They are the trainer's own; where they are not given
the spec's fit(...) decides (epochs, batch size, seed, validation split).

flags:
`

func runTrain(args []string) int {
	// The trainer's flags are parsed here first, so that -h and a bad flag
	// are answered without building anything.
	fs := runtime.TrainFlags(io.Discard)
	fs.Usage = func() {}
	files, code := parseInterspersed(fs, args)
	if code == 0 {
		fmt.Fprint(stderr, trainHelp)
		fs.SetOutput(stderr)
		fs.PrintDefaults()
		return 0
	}
	if code > 0 || len(files) != 1 {
		if code < 0 {
			fmt.Fprintf(stderr, "convc train: want one spec FILE, got %d: %q\n", len(files), files)
		} else {
			// Let the flag package say what was wrong, then the usage.
			fs.SetOutput(stderr)
			parseInterspersed(fs, args)
		}
		fmt.Fprintf(stderr, "run \"convc train -h\" for the flags\n")
		return 2
	}
	var flags []string
	fs.Visit(func(f *flag.Flag) { flags = append(flags, "-"+f.Name+"="+f.Value.String()) })
	bin, _, err := convc.BuildTrainer(files[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	cmd := exec.Command(bin, append([]string{"train"}, flags...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}
