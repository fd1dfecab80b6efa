package srtp

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
)

func sprintf(f string, a any) string    { return fmt.Sprintf(f, a) }
func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
func hexOf(b []byte) string             { return hex.EncodeToString(b) }
