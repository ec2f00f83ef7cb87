package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
)

// The standard library has no BMP decoder, and the runtime imports nothing
// else (golang.org/x/image/bmp would give generated code a dependency), so
// this file decodes the BMPs that image_dataset_from_directory users meet in
// practice: uncompressed (BI_RGB) 24- and 32-bit images, bottom-up or
// top-down, and 32-bit BI_BITFIELDS in the usual BGRA layout. Other BMPs
// (palettes, RLE, 16-bit) get an error that says so.

func init() {
	image.RegisterFormat("bmp", "BM", decodeBMP, decodeBMPConfig)
}

type bmpHeader struct {
	offset        uint32
	width, height int
	topDown       bool
	bpp           int
}

var errBMPUnsupported = errors.New("unsupported BMP")

func readBMPHeader(r io.Reader) (bmpHeader, error) {
	// BITMAPFILEHEADER (14 bytes), then the DIB header's size.
	var b [18]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return bmpHeader{}, unexpected(err)
	}
	if b[0] != 'B' || b[1] != 'M' {
		return bmpHeader{}, image.ErrFormat
	}
	h := bmpHeader{offset: binary.LittleEndian.Uint32(b[10:])}
	dibSize := binary.LittleEndian.Uint32(b[14:])
	if dibSize < 40 || dibSize > 1<<10 {
		return h, fmt.Errorf("%w: DIB header of %d bytes (only BITMAPINFOHEADER and later are read)", errBMPUnsupported, dibSize)
	}
	dib := make([]byte, dibSize-4)
	if _, err := io.ReadFull(r, dib); err != nil {
		return h, unexpected(err)
	}
	w := int32(binary.LittleEndian.Uint32(dib[0:]))
	ht := int32(binary.LittleEndian.Uint32(dib[4:]))
	h.bpp = int(binary.LittleEndian.Uint16(dib[10:]))
	compression := binary.LittleEndian.Uint32(dib[12:])
	if ht < 0 {
		h.topDown, ht = true, -ht
	}
	h.width, h.height = int(w), int(ht)
	if w < 0 {
		return h, fmt.Errorf("BMP has a negative width %d", w)
	}
	switch {
	case compression == 0 && (h.bpp == 24 || h.bpp == 32):
	case compression == 3 && h.bpp == 32:
		// BI_BITFIELDS: accept only the common B, G, R, A byte order.
		if dibSize >= 52 {
			m := dib[36:48]
			if binary.LittleEndian.Uint32(m[0:]) != 0xff0000 || binary.LittleEndian.Uint32(m[4:]) != 0xff00 || binary.LittleEndian.Uint32(m[8:]) != 0xff {
				return h, fmt.Errorf("%w: 32-bit bit fields other than BGRA", errBMPUnsupported)
			}
		}
	default:
		return h, fmt.Errorf("%w: %d bits per pixel with compression %d (only uncompressed 24- and 32-bit BMPs are read; convert it to PNG)", errBMPUnsupported, h.bpp, compression)
	}
	// Skip to the pixels.
	if skip := int64(h.offset) - 14 - int64(dibSize); skip > 0 {
		if _, err := io.CopyN(io.Discard, r, skip); err != nil {
			return h, unexpected(err)
		}
	} else if skip < 0 {
		return h, fmt.Errorf("BMP pixel offset %d points into the header", h.offset)
	}
	return h, nil
}

// unexpected turns io.EOF into io.ErrUnexpectedEOF: a header cut short is
// a truncated file.
func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func decodeBMPConfig(r io.Reader) (image.Config, error) {
	h, err := readBMPHeader(r)
	if err != nil {
		return image.Config{}, err
	}
	return image.Config{ColorModel: color.NRGBAModel, Width: h.width, Height: h.height}, nil
}

func decodeBMP(r io.Reader) (image.Image, error) {
	h, err := readBMPHeader(r)
	if err != nil {
		return nil, err
	}
	if int64(h.width)*int64(h.height) > maxImagePixels {
		return nil, fmt.Errorf("BMP is %dx%d, larger than the %d-pixel limit", h.width, h.height, maxImagePixels)
	}
	img := image.NewNRGBA(image.Rect(0, 0, h.width, h.height))
	bytesPP := h.bpp / 8
	stride := (h.width*bytesPP + 3) &^ 3
	row := make([]byte, stride)
	for i := range h.height {
		if _, err := io.ReadFull(r, row); err != nil {
			return nil, unexpected(err)
		}
		y := h.height - 1 - i
		if h.topDown {
			y = i
		}
		dst := img.Pix[y*img.Stride:]
		for x := range h.width {
			p := row[x*bytesPP:]
			// The fourth byte of a 32-bit BI_RGB pixel is usually 0, not an
			// alpha: the image is read as opaque, as Pillow reads BI_RGB.
			dst[4*x], dst[4*x+1], dst[4*x+2], dst[4*x+3] = p[2], p[1], p[0], 255
		}
	}
	return img, nil
}
