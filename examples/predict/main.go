// Command predict classifies a PNG of a digit with the MNIST model that
// convc generated, using weights written by the trainer.
package main

import (
	"fmt"
	"image"
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
	// The model takes 28x28 grayscale pixels scaled to [0, 1], as mnist()
	// feeds it in training.
	x := make([]float32, mnist.InputSize)
	for y := range 28 {
		for xx := range 28 {
			r, g, b, _ := img.At(xx, y).RGBA()
			x[y*28+xx] = float32((19595*r+38470*g+7471*b+1<<15)>>24) / 255
		}
	}
	probs := make([]float32, mnist.OutputSize)
	if err := m.Predict(x, probs); err != nil {
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
