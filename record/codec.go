package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrUnsupportedVersion is returned by Decode for a schema version this build
// does not understand. Consumers should dead-letter such messages rather than
// guess at their meaning.
var ErrUnsupportedVersion = errors.New("record: unsupported schema_version")

// Encode appends the JSON form of r to dst and returns the extended slice.
// The schema version is always written as SchemaVersion.
func Encode(dst []byte, r *Record) ([]byte, error) {
	r.SchemaVersion = SchemaVersion
	buf := bytes.NewBuffer(dst)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return dst, fmt.Errorf("record: encode: %w", err)
	}
	out := buf.Bytes()
	// json.Encoder terminates with a newline; the wire form has none.
	return out[:len(out)-1], nil
}

// Decode parses one record. It rejects malformed JSON, a missing request_id
// and schema versions newer than SchemaVersion, with an error that says which.
func Decode(data []byte) (*Record, error) {
	r, err := decodeRecord(data)
	if err != nil {
		return nil, fmt.Errorf("record: decode: %w", err)
	}
	if r.SchemaVersion < 1 || r.SchemaVersion > SchemaVersion {
		return nil, fmt.Errorf("%w: %d (this build reads 1..%d)", ErrUnsupportedVersion, r.SchemaVersion, SchemaVersion)
	}
	if r.RequestID == "" {
		return nil, errors.New("record: decode: request_id is empty")
	}
	return r, nil
}
