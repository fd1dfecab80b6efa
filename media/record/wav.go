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

// Format is the audio encoding of a recording's WAV.
type Format uint8

// Formats.
const (
	// FormatPCM16 is 16-bit linear PCM (WAVE_FORMAT_PCM, tag 1): 32 KB a second.
	FormatPCM16 Format = iota
	// FormatULaw is G.711 mu-law (WAVE_FORMAT_MULAW, tag 7), 8 bits a sample:
	// half the size. The telephone audio hush records is G.711 already, so a
	// mu-law call loses nothing; an A-law call is re-quantised once.
	FormatULaw
)

// maxHeaderSize is the largest header of any format.
const maxHeaderSize = ulawHeaderSize

// ulawHeaderSize: RIFF (12), "fmt " with an 18-byte WAVEFORMATEX (26), "fact"
// (12; non-PCM formats carry one), "data" (8).
const ulawHeaderSize = 58

func (f Format) String() string {
	if f == FormatULaw {
		return "ulaw"
	}
	return "pcm16"
}

// headerSize is the format's header length.
func (f Format) headerSize() int64 {
	if f == FormatULaw {
		return ulawHeaderSize
	}
	return headerSize
}

// frameBytes is the size of one stereo sample frame in the file.
func (f Format) frameBytes() int64 {
	if f == FormatULaw {
		return NumChannels
	}
	return frameBytes
}

// bits is the file's bits per sample.
func (f Format) bits() int {
	if f == FormatULaw {
		return 8
	}
	return BitsPerSample
}

// maxData keeps the RIFF size within uint32, in whole frames.
func (f Format) maxData() int64 {
	return (1<<32 - 1 - (f.headerSize() - 8)) / f.frameBytes() * f.frameBytes()
}

// encoding is the sidecar's name for the format ("" for PCM).
func (f Format) encoding() string {
	if f == FormatULaw {
		return "ulaw"
	}
	return ""
}

// putFormatHeader writes f's header for dataBytes into b[:f.headerSize()].
func putFormatHeader(b []byte, f Format, dataBytes uint32) {
	if f != FormatULaw {
		putHeader(b, dataBytes)
		return
	}
	_ = b[ulawHeaderSize-1]
	copy(b[0:4], "RIFF")
	binary.LittleEndian.PutUint32(b[4:8], dataBytes+ulawHeaderSize-8)
	copy(b[8:12], "WAVE")
	copy(b[12:16], "fmt ")
	binary.LittleEndian.PutUint32(b[16:20], 18)
	binary.LittleEndian.PutUint16(b[20:22], 7) // WAVE_FORMAT_MULAW
	binary.LittleEndian.PutUint16(b[22:24], NumChannels)
	binary.LittleEndian.PutUint32(b[24:28], SampleRate)
	binary.LittleEndian.PutUint32(b[28:32], SampleRate*NumChannels) // byte rate
	binary.LittleEndian.PutUint16(b[32:34], NumChannels)            // block align
	binary.LittleEndian.PutUint16(b[34:36], 8)
	binary.LittleEndian.PutUint16(b[36:38], 0) // cbSize
	copy(b[38:42], "fact")
	binary.LittleEndian.PutUint32(b[42:46], 4)
	binary.LittleEndian.PutUint32(b[46:50], dataBytes/NumChannels) // sample frames
	copy(b[50:54], "data")
	binary.LittleEndian.PutUint32(b[54:58], dataBytes)
}

// parseFormatHeader reads the header of either format. It never panics.
func parseFormatHeader(b []byte) (Format, wavHeader, error) {
	if len(b) >= 22 && binary.LittleEndian.Uint16(b[20:22]) == 7 {
		if len(b) < ulawHeaderSize {
			return FormatULaw, wavHeader{}, fmt.Errorf("%w: %d bytes, need %d", ErrBadHeader, len(b), ulawHeaderSize)
		}
		var want [ulawHeaderSize]byte
		putFormatHeader(want[:], FormatULaw, 0)
		for _, r := range [][2]int{{0, 4}, {8, 46}, {50, 54}} {
			for i := r[0]; i < r[1]; i++ {
				if b[i] != want[i] {
					return FormatULaw, wavHeader{}, fmt.Errorf("%w: byte %d is %#x, want %#x", ErrBadHeader, i, b[i], want[i])
				}
			}
		}
		return FormatULaw, wavHeader{riffSize: binary.LittleEndian.Uint32(b[4:8]), dataSize: binary.LittleEndian.Uint32(b[54:58])}, nil
	}
	h, err := parseHeader(b)
	return FormatPCM16, h, err
}
