package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/convc/convc"
)

func init() {
	register(&command{
		Name:  "train",
		Usage: "convc train FILE [trainer flags]",
		Short: "build the spec's trainer and train the model in one step",
		Run:   runTrain,
	})
}

func runTrain(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" {
		fmt.Fprint(stderr, `usage: convc train FILE [trainer flags]

Train builds the trainer of the spec FILE (in convc's cache folder, so any
spec on disk works) and runs "<model> train" with the flags that follow:

  -epochs N          number of epochs (default: the spec's fit)
  -batch-size N      batch size (default: the spec's fit)
  -seed N            seed of the whole run (default: the spec's, or 0)
  -data DIR          data folder (default: the spec's data source)
  -init W            start from the weights in a safetensors file
  -out W             where to write the trained weights (default <model>.safetensors)
  -history H         write per-epoch metrics as CSV
  -workers N         parallel workers (the result does not depend on it)
  -shuffle=false     keep the samples in order
  -limit N           train on the first N samples only
  -skip-bad-images   image_directory(): leave out unreadable images with a warning
  -json              end with a JSON line of the final metrics
`)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	bin, _, err := convc.BuildTrainer(args[0])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	cmd := exec.Command(bin, append([]string{"train"}, args[1:]...)...)
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
