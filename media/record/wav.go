package record

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Fixed format of every hush recording.
const (
	// SampleRate is the recording sample rate in Hz (G.711 narrowband).
	SampleRate = 8000
	// NumChannels is 2: customer left, agent right.
	NumChannels = 2
	// BitsPerSample is 16-bit signed little-endian PCM.
	BitsPerSample = 16

	frameBytes = NumChannels * BitsPerSample / 8 // one stereo sample frame
	headerSize = 44                              // RIFF + fmt (16) + data chunk header
	// maxDataBytes keeps the RIFF size (data + 36) within uint32, rounded
	// down to whole frames.
	maxDataBytes = (1<<32 - 1 - (headerSize - 8)) / frameBytes * frameBytes

	// sampleDur is the duration of one sample at 8 kHz: exactly 125 µs, so
	// wall-clock offsets convert to sample positions without overflow.
	sampleDur = time.Second / SampleRate
)

// putHeader writes the canonical 44-byte header for dataBytes of PCM into
// b[:44]. Layout: RIFF chunk (RIFF/WAVE), "fmt " chunk with a 16-byte
// PCMWAVEFORMAT (format tag 1), then the "data" chunk header.
func putHeader(b []byte, dataBytes uint32) {
	_ = b[headerSize-1]
	copy(b[0:4], "RIFF")
	binary.LittleEndian.PutUint32(b[4:8], dataBytes+headerSize-8)
	copy(b[8:12], "WAVE")
	copy(b[12:16], "fmt ")
	binary.LittleEndian.PutUint32(b[16:20], 16)
	binary.LittleEndian.PutUint16(b[20:22], 1) // WAVE_FORMAT_PCM
	binary.LittleEndian.PutUint16(b[22:24], NumChannels)
	binary.LittleEndian.PutUint32(b[24:28], SampleRate)
	binary.LittleEndian.PutUint32(b[28:32], SampleRate*frameBytes) // byte rate
	binary.LittleEndian.PutUint16(b[32:34], frameBytes)            // block align
	binary.LittleEndian.PutUint16(b[34:36], BitsPerSample)
	copy(b[36:40], "data")
	binary.LittleEndian.PutUint32(b[40:44], dataBytes)
}

// wavHeader is what parseHeader reads back: the two size fields, which a
// crash can leave behind the real file length.
type wavHeader struct {
	riffSize uint32
	dataSize uint32
}

// parseHeader checks that b starts with hush's fixed header (format fields
// exact) and returns its size fields. It never panics on any input.
func parseHeader(b []byte) (wavHeader, error) {
	if len(b) < headerSize {
		return wavHeader{}, fmt.Errorf("%w: %d bytes, need %d", ErrBadHeader, len(b), headerSize)
	}
	var want [headerSize]byte
	putHeader(want[:], 0)
	for _, r := range [][2]int{{0, 4}, {8, 40}} {
		for i := r[0]; i < r[1]; i++ {
			if b[i] != want[i] {
				return wavHeader{}, fmt.Errorf("%w: byte %d is %#x, want %#x", ErrBadHeader, i, b[i], want[i])
			}
		}
	}
	h := wavHeader{
		riffSize: binary.LittleEndian.Uint32(b[4:8]),
		dataSize: binary.LittleEndian.Uint32(b[40:44]),
	}
	return h, nil
}
