package srtp

import (
	"strings"

	psrtp "github.com/pion/srtp/v3"
)

// Suite is an SRTP crypto suite as SDES names it.
type Suite uint8

// Suites. SuiteNone is no suite (a zero Key).
const (
	SuiteNone Suite = iota
	AES128CMSHA1_80
	AES128CMSHA1_32
	AES256CMSHA1_80
	AES256CMSHA1_32
	AEADAES128GCM
	AEADAES256GCM
	numSuites
)

type suiteInfo struct {
	name            string
	profile         psrtp.ProtectionProfile
	keyLen, saltLen int
	// rtpTrailer and rtcpTrailer are what protection appends: the authentication tag
	// (RTP), the E flag and index plus the tag (RTCP).
	rtpTrailer, rtcpTrailer int
}

var suites = [numSuites]suiteInfo{
	AES128CMSHA1_80: {"AES_CM_128_HMAC_SHA1_80", psrtp.ProtectionProfileAes128CmHmacSha1_80, 16, 14, 10, 4 + 10},
	// RFC 4568 section 6.2.2: the 32-bit tag is for RTP; SRTCP keeps the 80-bit tag.
	AES128CMSHA1_32: {"AES_CM_128_HMAC_SHA1_32", psrtp.ProtectionProfileAes128CmHmacSha1_32, 16, 14, 4, 4 + 10},
	AES256CMSHA1_80: {"AES_256_CM_HMAC_SHA1_80", psrtp.ProtectionProfileAes256CmHmacSha1_80, 32, 14, 10, 4 + 10},
	AES256CMSHA1_32: {"AES_256_CM_HMAC_SHA1_32", psrtp.ProtectionProfileAes256CmHmacSha1_32, 32, 14, 4, 4 + 10},
	AEADAES128GCM:   {"AEAD_AES_128_GCM", psrtp.ProtectionProfileAeadAes128Gcm, 16, 12, 16, 16 + 4},
	AEADAES256GCM:   {"AEAD_AES_256_GCM", psrtp.ProtectionProfileAeadAes256Gcm, 32, 12, 16, 16 + 4},
}

// MaxTrailer is the most any suite appends to a packet: a buffer that holds a plain
// packet and MaxTrailer more octets holds it protected.
const MaxTrailer = 20

// Suites lists the supported suites in hush's order of preference (strongest first).
func Suites() []Suite {
	return []Suite{AEADAES256GCM, AEADAES128GCM, AES256CMSHA1_80, AES128CMSHA1_80, AES256CMSHA1_32, AES128CMSHA1_32}
}

// ParseSuite returns the suite of an SDES name (case-insensitive, as rtpengine's flags
// spell them either way).
func ParseSuite(name string) (Suite, bool) {
	for s := AES128CMSHA1_80; s < numSuites; s++ {
		if strings.EqualFold(suites[s].name, name) {
			return s, true
		}
	}
	return SuiteNone, false
}

func (s Suite) valid() bool { return s > SuiteNone && s < numSuites }

// String is the suite's SDES name ("AES_CM_128_HMAC_SHA1_80").
func (s Suite) String() string {
	if s.valid() {
		return suites[s].name
	}
	return "none"
}

// KeyLen is the length of the suite's master key plus master salt.
func (s Suite) KeyLen() int {
	if !s.valid() {
		return 0
	}
	return suites[s].keyLen + suites[s].saltLen
}

// RTPTrailer is how many octets protection adds to an RTP packet.
func (s Suite) RTPTrailer() int {
	if !s.valid() {
		return 0
	}
	return suites[s].rtpTrailer
}

// RTCPTrailer is how many octets protection adds to an RTCP packet.
func (s Suite) RTCPTrailer() int {
	if !s.valid() {
		return 0
	}
	return suites[s].rtcpTrailer
}

func (s Suite) aead() bool { return s == AEADAES128GCM || s == AEADAES256GCM }
