// Package npy writes NumPy .npy files (format version 1.0) and exports an
// image_directory data set as them, so that the PyTorch target's train.py
// reads the very pixels the Go trainer trains on, decoded and resized by
// the runtime, with nothing but NumPy (convc export-data).
package npy
