package runtime

import (
	"fmt"
	"reflect"
)

// This file caches the features of a frozen base: when the first layers of
// a network are frozen and draw nothing at random, their output depends
// on the input alone, so the trainer computes it once per image and trains
// the rest of the network on the stored features (listings 8.20-8.21 in
// one run). The cache lives in memory.

// FeaturePrefix returns k, the last layer of the longest run of layers
// after the input whose output depends on the input only: no trainable
// parameter, no Dropout, no Random* layer. It returns 0 when that run has
// no layer with parameters (caching it would save little), or when it
// reaches the output (nothing would be left to train).
func FeaturePrefix(s *Spec) int {
	k, weighted := 0, false
	trainable := map[string]bool{}
	for _, p := range s.Params {
		if p.Trainable {
			trainable[p.Name[:len(p.Name)-len(suffixOf(p.Name))]] = true
		}
	}
	for i := 1; i < len(s.Layers); i++ {
		l := &s.Layers[i]
		switch l.Kind {
		case "Dropout", "RandomFlip", "RandomRotation", "RandomZoom":
			return done(k, weighted, len(s.Layers))
		case "Conv2D", "Dense":
			if trainable[l.Name+"/"] {
				return done(k, weighted, len(s.Layers))
			}
			weighted = true
		}
		k = i
	}
	return done(k, weighted, len(s.Layers))
}

func done(k int, weighted bool, n int) int {
	if !weighted || k >= n-1 {
		return 0
	}
	return k
}

// suffixOf returns the part of a parameter name after its layer's name:
// "kernel" or "bias".
func suffixOf(name string) string {
	for i := len(name) - 1; i >= 0; i-- {
		if name[i] == '/' {
			return name[i+1:]
		}
	}
	return name
}

// FeatureWorker is a Worker that can run the layers up to FeaturePrefix
// apart from the rest. Generated workers of networks with such a prefix
// implement it.
type FeatureWorker interface {
	Worker
	// Features runs the layers 1 to FeaturePrefix on x and returns their
	// output, valid until the next call. With training set it uses the
	// kernels Forward uses in training, so that a cached run gives the
	// same bits as one without the cache.
	Features(x []float32, training bool) []float32
	// ForwardFeatures runs the remaining layers from features f, as Forward
	// would after computing them, and returns the output before the head
	// activation.
	ForwardFeatures(f []float32, training bool, seed uint64) []float32
}

// featureCache holds the features and labels of the samples of one source
// that have been through the base.
type featureCache struct {
	size, lab int
	feats     []float32
	labels    []float32
	have      []bool
}

// features returns the features and the label of sample i of src,
// computing and storing them on the first call for i. Different
// goroutines may call it for different i at once.
func (c *featureCache) features(fw FeatureWorker, src Source, i int, x, y []float32, training bool) []float32 {
	f := c.feats[i*c.size : (i+1)*c.size]
	lab := c.labels[i*c.lab : (i+1)*c.lab]
	if !c.have[i] {
		src.Sample(i, x, y)
		copy(f, fw.Features(x, training))
		copy(lab, y)
		c.have[i] = true
		return f
	}
	copy(y, lab)
	return f
}

// SetFeatureCache makes the trainer cache the features of the frozen base
// (see FeaturePrefix) of every source it trains or evaluates on, in
// memory, while the cache of all sources stays within limit bytes; a
// source that would not fit runs the whole network every time. It
// returns a line for the user about what it does, or "" when the
// network has no such base.
func (t *Trainer) SetFeatureCache(limit int64) string {
	k := FeaturePrefix(t.spec)
	if k == 0 || len(t.workers) == 0 {
		return ""
	}
	if _, ok := t.workers[0].(FeatureWorker); !ok {
		return ""
	}
	t.featLayer, t.featLimit = k, limit
	t.caches = map[Source]*featureCache{}
	return fmt.Sprintf("Layers 1-%d (%s) are frozen: their outputs are computed once per image and kept in memory, %d floats each (limit %d MB)",
		k, t.spec.Layers[k].Name, prod(t.spec.Layers[k].Out), limit>>20)
}

// cacheFor returns the cache of src, creating it while the limit allows,
// or nil.
func (t *Trainer) cacheFor(src Source) *featureCache {
	// Sources are told apart by identity: only pointers qualify.
	if t.caches == nil || src == nil || reflect.TypeOf(src).Kind() != reflect.Pointer {
		return nil
	}
	if c, ok := t.caches[src]; ok {
		return c
	}
	size, lab := prod(t.spec.Layers[t.featLayer].Out), LabelSize(t.spec)
	need := int64(src.Len()) * int64(size+lab) * 4
	var c *featureCache
	if t.featUsed+need <= t.featLimit {
		t.featUsed += need
		c = &featureCache{size: size, lab: lab,
			feats: make([]float32, src.Len()*size), labels: make([]float32, src.Len()*lab), have: make([]bool, src.Len())}
	}
	t.caches[src] = c
	return c
}

// FeatureCacheBytes returns the bytes the feature caches hold.
func (t *Trainer) FeatureCacheBytes() int64 { return t.featUsed }
