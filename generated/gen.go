// Package generated holds the packages that convc generates from the specs
// in specs/. They are committed so that they can be read and benchmarked
// without running convc; TestGeneratedFilesUpToDate keeps them current.
// Run "go generate ./generated" after changing a spec or the generator.
package generated

//go:generate go run ../cmd/convc build -q -cache default -o mnist ../specs/mnist.cnn
//go:generate go run ../cmd/convc build -q -cache default -o mnist_no_pool ../specs/mnist_no_pool.cnn
//go:generate go run ../cmd/convc build -q -cache default -o cats_vs_dogs ../specs/cats_vs_dogs.cnn
//go:generate go run ../cmd/convc build -q -cache default -o cats_vs_dogs_augmented ../specs/cats_vs_dogs_augmented.cnn
//go:generate go run ../cmd/convc build -q -cache default -o mnist_features ../specs/mnist_features.cnn
//go:generate go run ../cmd/convc build -q -cache default -o mnist_fine_tuning ../specs/mnist_fine_tuning.cnn
