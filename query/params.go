package query

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// timeRange reads from/to (RFC 3339 or epoch milliseconds), defaulting to
// the last 24 hours. It returns epoch milliseconds, from inclusive and to
// exclusive.
func timeRange(q url.Values, now time.Time) (from, to int64, err error) {
	to = now.UnixMilli() + 1
	from = now.Add(-24 * time.Hour).UnixMilli()
	if v := q.Get("from"); v != "" {
		if from, err = parseTime(v); err != nil {
			return 0, 0, fmt.Errorf("from: %w", err)
		}
	}
	if v := q.Get("to"); v != "" {
		if to, err = parseTime(v); err != nil {
			return 0, 0, fmt.Errorf("to: %w", err)
		}
	}
	if to <= from {
		return 0, 0, errors.New("to must be after from")
	}
	return from, to, nil
}

func parseTime(v string) (int64, error) {
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		if ms < 0 {
			return 0, errors.New("must not be negative")
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return 0, fmt.Errorf("%q is neither RFC 3339 nor epoch milliseconds", v)
	}
	if t.Before(time.Unix(0, 0)) {
		return 0, errors.New("must not be before 1970")
	}
	return t.UnixMilli(), nil
}

// secondsOf converts epoch milliseconds to the DateTime seconds that bound
// the ts column: floor for a lower bound, so that no row of the first second
// is missed; the exact millisecond bound is applied to started_at_ms too.
func secondsOf(ms int64) uint32 {
	if ms < 0 {
		return 0
	}
	return uint32(ms / 1000)
}

// cursor is a keyset position: the last row of the previous page.
type cursor struct {
	startedAtMs int64
	requestID   string
}

func (c cursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.startedAtMs, 10) + ":" + c.requestID))
}

func decodeCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, errors.New("cursor is not one this API returned")
	}
	ms, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n < 0 || id == "" {
		return cursor{}, errors.New("cursor is not one this API returned")
	}
	return cursor{startedAtMs: n, requestID: id}, nil
}
