package gateway

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// jsonMarshaler is the gateway's only marshaler: protojson with field names as the
// OpenAPI document has them (lowerCamelCase), unknown fields refused, and decoding
// errors that say what is wrong without quoting the body.
type jsonMarshaler struct{ runtime.JSONPb }

func newMarshaler() *jsonMarshaler {
	return &jsonMarshaler{runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
	}}
}

func (m *jsonMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	d := m.JSONPb.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		err := d.Decode(v)
		if err == nil || err == io.EOF {
			return err
		}
		return decodeError(err)
	})
}

// errBody replaces protojson's decoding errors, which quote the offending input. The
// gateway makes it INVALID_ARGUMENT with this text as the message. (The body's size was
// checked before: ServeHTTP reads it whole, bounded.)
var errBody = errors.New("request body is not a JSON object of this method's request fields")

func decodeError(error) error { return errBody }

// The gateway makes these INVALID_ARGUMENT with the error's text as the message.
var errUnknownParam = errors.New("a query parameter is not a field of this method's request")

// queryParser fills a request from the query string key by key, so a bad value is
// blamed on its parameter, named only when it is one of the request's fields.
type queryParser struct{ runtime.DefaultQueryParser }

func (p *queryParser) Parse(msg proto.Message, values url.Values, filter *utilities.DoubleArray) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := p.DefaultQueryParser.Parse(msg, url.Values{k: values[k]}, filter); err != nil {
			if f := field(msg.ProtoReflect().Descriptor(), k); f != "" {
				return fmt.Errorf("query parameter %s has a value of the wrong type or form", f)
			}
			return errUnknownParam
		}
	}
	// DefaultQueryParser ignores names it does not know; say so rather than drop them
	// silently (a mistyped filter would otherwise list everything).
	for _, k := range keys {
		if field(msg.ProtoReflect().Descriptor(), k) == "" {
			return errUnknownParam
		}
	}
	return nil
}

// field returns the name of md's top-level field that query key k sets (by proto or
// JSON name, or the first element of a dotted path), or "".
func field(md protoreflect.MessageDescriptor, k string) string {
	for i := range len(k) {
		if k[i] == '.' || k[i] == '[' {
			k = k[:i]
			break
		}
	}
	fs := md.Fields()
	for i := range fs.Len() {
		f := fs.Get(i)
		if string(f.Name()) == k || f.JSONName() == k {
			return string(f.Name())
		}
	}
	return ""
}
