//go:build unix

package npy

import (
	"os"
	"sync"
	"syscall"
)

// fileMode is the mode os.Create gives a new file: 0666 less the umask.
// The temporary files that become the exported files are created 0600,
// and are set to it before they are renamed, so others can read an
// export on a shared disk as they could any file the user writes.
var fileMode = sync.OnceValue(func() os.FileMode {
	mask := syscall.Umask(0)
	syscall.Umask(mask)
	return os.FileMode(0o666 &^ mask)
})
