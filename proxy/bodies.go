package proxy

import (
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/redact"
	"github.com/switchyard/switchyard/record"
)

// bodyMargin is how far past record_body_bytes a body is kept on the
// request path, so that a secret cut by the limit is still whole when the
// redactor looks at it; the BodyFilter then cuts at the limit.
const bodyMargin = 512

// BodyFilter readies a record's bodies for storage: it redacts them, then
// cuts each at record_body_bytes (setting body_truncated). It runs where
// records are encoded, off the request path (see PublisherOptions.Filter).
type BodyFilter struct {
	redactor *redact.Redactor // nil: nothing to redact
	max      int
}

// NewBodyFilter builds the filter of the proxy's config: proxy.redact and
// record_body_bytes.
func NewBodyFilter(cfg *config.Proxy) (*BodyFilter, error) {
	f := &BodyFilter{max: cfg.RecordBodyBytes}
	if cfg.Redact.Defaults != nil && !*cfg.Redact.Defaults && len(cfg.Redact.Patterns) == 0 {
		return f, nil
	}
	r, err := redact.New(cfg.Redact)
	if err != nil {
		return nil, err
	}
	f.redactor = r
	return f, nil
}

// Apply redacts and cuts r's bodies in place.
func (f *BodyFilter) Apply(r *record.Record) {
	if f == nil {
		return
	}
	for _, body := range [...]*string{&r.RequestBody, &r.ResponseBody} {
		if *body == "" {
			continue
		}
		if f.redactor != nil {
			*body, _ = f.redactor.Redact(*body)
		}
		if len(*body) > f.max {
			*body = strings.ToValidUTF8((*body)[:f.max], "")
			r.BodyTruncated = true
		}
	}
}
