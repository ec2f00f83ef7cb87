// Command transfer shows, on data that ships with convc, what section 8.3
// shows with ImageNet: a convolutional base trained on one task helps a
// second task that has few samples. The base is listing 8-1's convnet
// trained on the MNIST digits 0-4; the second task is the digits 5-9, with
// only -n training images. It trains the second task three ways, as the
// book compares them, and prints their test accuracy on every test image
// of the digits 5-9:
//
//   - from scratch: specs/mnist.cnn on the n images;
//
//   - feature extraction: specs/mnist_features.cnn, the base frozen under a
//     new head;
//
//   - fine-tuning: specs/mnist_fine_tuning.cnn, from the feature
//     extraction's weights, with the last convolution unfrozen and
//     RMSprop(1e-4).
//
//     go run ./bench/transfer [-n 300] [-epochs 10] [-seed 1]
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/convc/convc/generated/mnist"
	"github.com/convc/convc/generated/mnist_features"
	"github.com/convc/convc/generated/mnist_fine_tuning"
	"github.com/convc/convc/runtime"
)

func main() {
	n := flag.Int("n", 300, "training images of the digits 5-9")
	epochs := flag.Int("epochs", 10, "epochs of each run on the digits 5-9")
	baseEpochs := flag.Int("base-epochs", 2, "epochs of the base on the digits 0-4")
	seed := flag.Uint64("seed", 1, "seed of the weights and the shuffling")
	workers := flag.Int("workers", 2, "cores")
	flag.Parse()
	log.SetFlags(0)

	dir, err := runtime.MNISTDir()
	if err != nil {
		log.Fatal(err)
	}
	tr, te, err := runtime.LoadMNIST(dir)
	if err != nil {
		log.Fatal(err)
	}
	low := func(l uint8) bool { return l < 5 }
	high := func(l uint8) bool { return l >= 5 }
	baseTrain := filter(tr, low, tr.N)
	fewTrain := filter(tr, high, *n)
	// The validation images of the second task come from the end of the
	// training set, past every image fewTrain could take.
	val := filter(tr.Slice(50000, 60000), high, 1000)
	test := filter(te, high, te.N)

	tmp, err := os.MkdirTemp("", "transfer")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	fit := func(net runtime.Net, ds *runtime.Dataset, ep int) time.Duration {
		src := source(net, ds, dir)
		t0 := time.Now()
		if _, err := runtime.Fit(net, src, runtime.FitConfig{Epochs: ep, BatchSize: 32, Seed: *seed, Workers: *workers, Shuffle: true,
			Validation: source(net, val, dir), FeatureCache: 1 << 30}); err != nil {
			log.Fatal(err)
		}
		return time.Since(t0)
	}
	eval := func(net runtime.Net) float64 {
		_, acc, err := runtime.Evaluate(net, source(net, test, dir), *workers, nil, false)
		if err != nil {
			log.Fatal(err)
		}
		return acc
	}

	// The base: listing 8-1 on the digits 0-4.
	base := mnist.New()
	runtime.InitParams(base.Spec(), base.Params(), *seed)
	fit(base, baseTrain, *baseEpochs)
	baseW := filepath.Join(tmp, "base.safetensors")
	check(runtime.SaveWeights(base, baseW))

	scratch := mnist.New()
	runtime.InitParams(scratch.Spec(), scratch.Params(), *seed+1)
	ts := fit(scratch, fewTrain, *epochs)

	fe := mnist_features.New()
	runtime.InitParams(fe.Spec(), fe.Params(), *seed+1)
	_, err = runtime.LoadMatchingWeights(fe, baseW)
	check(err)
	tf := fit(fe, fewTrain, *epochs)
	feW := filepath.Join(tmp, "features.safetensors")
	check(runtime.SaveWeights(fe, feW))

	ft := mnist_fine_tuning.New()
	runtime.InitParams(ft.Spec(), ft.Params(), *seed+1)
	check(runtime.LoadWeights(ft, feW))
	tt := fit(ft, fewTrain, *epochs)

	fmt.Printf("\n| Digits 5-9, %d training images, %d epochs | Test accuracy (%d images) | Training time |\n|---|---|---|\n", fewTrain.N, *epochs, test.N)
	fmt.Printf("| from scratch (mnist.cnn) | %.3f | %.1f s |\n", eval(scratch), ts.Seconds())
	fmt.Printf("| feature extraction (mnist_features.cnn, base trained on 0-4) | %.3f | %.1f s |\n", eval(fe), tf.Seconds())
	fmt.Printf("| fine-tuning (mnist_fine_tuning.cnn, from feature extraction) | %.3f | %.1f s |\n", eval(ft), tt.Seconds())
}

// filter returns the first at most max images of ds whose label keeps.
func filter(ds *runtime.Dataset, keep func(uint8) bool, max int) *runtime.Dataset {
	out := *ds
	out.N, out.Pixels, out.Labels = 0, nil, nil
	px := ds.H * ds.W * ds.C
	for i := 0; i < ds.N && out.N < max; i++ {
		if keep(ds.Labels[i]) {
			out.Pixels = append(out.Pixels, ds.Pixels[i*px:(i+1)*px]...)
			out.Labels = append(out.Labels, ds.Labels[i])
			out.N++
		}
	}
	return &out
}

func source(net runtime.Net, ds *runtime.Dataset, dir string) runtime.Source {
	src, err := runtime.NewIDXSource(net.Spec(), ds, dir)
	check(err)
	return src
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
