// Command predict classifies an image of a digit (PNG, JPEG or GIF, of any
// size) with the MNIST model that convc generated, using weights written by
// the trainer.
package main

import (
	"fmt"
	"image"
	_ "image/jpeg"
	_ "image/png"
	"log"
	"os"

	"github.com/convc/convc/generated/mnist"
)

func main() {
	m := mnist.New()
	if err := m.LoadWeights("mnist.safetensors"); err != nil {
		log.Fatal(err)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	img, _, err := image.Decode(f)
	if err != nil {
		log.Fatal(err)
	}
	// PredictImage preprocesses the image as the trainer's predict does:
	// grayscale, resized to 28x28, scaled to [0, 1] as mnist() is.
	probs := make([]float32, mnist.OutputSize)
	if err := m.PredictImage(img, probs); err != nil {
		log.Fatal(err)
	}
	best := 0
	for i, p := range probs {
		if p > probs[best] {
			best = i
		}
	}
	fmt.Printf("digit %d (p=%.3f)\n", best, probs[best])
}
