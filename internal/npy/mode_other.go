//go:build !unix

package npy

import "os"

// fileMode is the mode of the exported files: 0644 where there is no
// umask.
func fileMode() os.FileMode { return 0o644 }
