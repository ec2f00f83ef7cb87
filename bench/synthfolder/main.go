// Command synthfolder writes a synthetic image folder in the layout of
// cats_vs_dogs_small (train/, validation/ and test/, one folder per class,
// 200x190 JPEGs of noisy checkerboards), for timing the section 8.2-8.3
// trainers where the Kaggle photos are not available:
//
//	go run ./bench/synthfolder -o cats_vs_dogs_small -train 48 -eval 16
//
// The README's timings of the VGG16 specs at 180x180 were taken on such a
// folder (48 training and 16 validation and test images per class).
package main

import (
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log"
	"math/rand"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("o", "cats_vs_dogs_small", "folder to write")
	train := flag.Int("train", 48, "training images per class")
	eval := flag.Int("eval", 16, "validation and test images per class")
	flag.Parse()
	r := rand.New(rand.NewSource(1))
	for _, part := range []string{"train", "validation", "test"} {
		n := *eval
		if part == "train" {
			n = *train
		}
		for ci, cls := range []string{"cat", "dog"} {
			dir := filepath.Join(*out, part, cls)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				log.Fatal(err)
			}
			for i := range n {
				img := image.NewRGBA(image.Rect(0, 0, 200, 190))
				for y := range 190 {
					for x := range 200 {
						v := uint8(r.Intn(60))
						if (x/20+y/20+ci)%2 == 0 {
							v += 150
						}
						img.Set(x, y, color.RGBA{v, uint8(ci * 100), 255 - v, 255})
					}
				}
				f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s.%d.jpg", cls, i)))
				if err != nil {
					log.Fatal(err)
				}
				if err := jpeg.Encode(f, img, nil); err != nil {
					log.Fatal(err)
				}
				if err := f.Close(); err != nil {
					log.Fatal(err)
				}
			}
		}
	}
}
