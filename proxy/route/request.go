package route

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"

	"github.com/switchyard/switchyard/config"
	"github.com/switchyard/switchyard/internal/jsonx"
)

// Request is what routing needs to know of one client request.
type Request struct {
	// Model is the requested model; Models is OpenRouter's ordered list of
	// fallback models, tried after Model. Either may carry a :floor or
	// :nitro suffix.
	Model  string
	Models []string
	// Sort is price, latency or throughput (or ordered, weighted,
	// least_busy); "" uses the model's configured strategy. It comes from
	// provider.sort or the model's suffix. An unknown value is ignored.
	Sort string
	// Order, AllowFallbacks, Only and Ignore are OpenRouter's provider
	// preferences; providers are named as in config, case-insensitively.
	Order          []string
	AllowFallbacks *bool
	Only, Ignore   []string
	// MaxPrice is provider.max_price; nil sets no limit.
	MaxPrice *MaxPrice
	// RequireParameters skips deployments that do not declare every
	// capability the request needs.
	RequireParameters bool
	// DataCollection "deny" keeps providers that do not collect data; ZDR
	// keeps zero-data-retention providers.
	DataCollection string
	ZDR            bool
	// NeedsTools, NeedsJSON and NeedsVision are the capabilities the
	// request uses.
	NeedsTools, NeedsJSON, NeedsVision bool
	// Endpoint is chat, completions, embeddings or rerank; "" is any.
	Endpoint string
	// Stream makes the latency strategy compare time to first token.
	Stream bool
	// PromptTokens is an estimate of the prompt's size, to skip
	// deployments whose context is smaller; 0 is unknown.
	PromptTokens int
	// MaxTokens is the request's max_tokens (0 if none); with
	// RequireParameters, deployments whose MaxOutputTokens is smaller are
	// skipped.
	MaxTokens int
}

// MaxPrice is OpenRouter's provider.max_price: Prompt and Completion in USD
// per million tokens, Request in USD per request, Image in USD per image.
// Unset members set no limit.
type MaxPrice struct {
	Prompt, Completion, Request, Image config.Price
}

// FieldError is a provider preference of the wrong type or value. Field is
// its path, such as "provider.order".
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// sortNames lists what provider.sort accepts, for error messages.
const sortNames = "price, latency, throughput, ordered, weighted, least_busy"

// ParsePreferences reads OpenRouter's provider object into req: order,
// allow_fallbacks, only, ignore, sort (a string, or an object whose "by"
// is), max_price {prompt, completion, request, image} (numbers or numeric
// strings), require_parameters, data_collection and zdr. null members are
// absent and unknown members are ignored; a member of the wrong type or an
// unknown value is a *FieldError. raw may be empty or null.
func ParsePreferences(raw []byte, req *Request) error {
	if jsonx.IsNull(bytes.TrimSpace(raw)) {
		return nil
	}
	var ferr error
	err := jsonx.Members(raw, func(m jsonx.Member) bool {
		v := raw[m.ValueStart:m.ValueEnd]
		if jsonx.IsNull(v) {
			return true
		}
		switch {
		case m.Is("order"):
			req.Order, ferr = stringList("provider.order", v)
		case m.Is("only"):
			req.Only, ferr = stringList("provider.only", v)
		case m.Is("ignore"):
			req.Ignore, ferr = stringList("provider.ignore", v)
		case m.Is("allow_fallbacks"):
			var b bool
			if b, ferr = boolean("provider.allow_fallbacks", v); ferr == nil {
				req.AllowFallbacks = &b
			}
		case m.Is("require_parameters"):
			req.RequireParameters, ferr = boolean("provider.require_parameters", v)
		case m.Is("zdr"):
			req.ZDR, ferr = boolean("provider.zdr", v)
		case m.Is("data_collection"):
			s, err := jsonx.Unquote(v)
			switch {
			case err != nil:
				ferr = &FieldError{"provider.data_collection", "must be a string"}
			case s != "allow" && s != "deny":
				ferr = &FieldError{"provider.data_collection", "must be allow or deny, not " + strconv.Quote(s)}
			default:
				req.DataCollection = s
			}
		case m.Is("sort"):
			req.Sort, ferr = parseSort(v)
		case m.Is("max_price"):
			var mp MaxPrice
			if mp, ferr = parseMaxPrice(v); ferr == nil {
				req.MaxPrice = &mp
			}
		}
		return ferr == nil
	})
	if ferr != nil {
		return ferr
	}
	switch {
	case errors.Is(err, jsonx.ErrNotObject):
		return &FieldError{"provider", "must be an object"}
	case err != nil:
		return &FieldError{"provider", "is not valid JSON"}
	}
	return nil
}

func stringList(field string, v []byte) ([]string, error) {
	if v[0] != '[' {
		return nil, &FieldError{field, "must be an array of provider names"}
	}
	var out []string
	ok := true
	err := jsonx.Elements(v, func(s, e int) bool {
		name, err := jsonx.Unquote(v[s:e])
		if err != nil {
			ok = false
			return false
		}
		out = append(out, name)
		return true
	})
	if !ok || err != nil {
		return nil, &FieldError{field, "must be an array of provider names"}
	}
	return out, nil
}

func boolean(field string, v []byte) (bool, error) {
	switch string(v) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, &FieldError{field, "must be a boolean"}
}

func parseSort(v []byte) (string, error) {
	field := "provider.sort"
	if v[0] == '{' {
		field = "provider.sort.by"
		by, err := jsonx.Get(v, "by")
		if err != nil || jsonx.IsNull(by) {
			return "", nil
		}
		v = by
	}
	s, err := jsonx.Unquote(v)
	if err != nil {
		return "", &FieldError{field, "must be a string or an object with \"by\""}
	}
	if !knownStrategy(s) {
		return "", &FieldError{field, "unknown sort " + strconv.Quote(s) + " (one of " + sortNames + ")"}
	}
	return s, nil
}

func parseMaxPrice(v []byte) (MaxPrice, error) {
	var mp MaxPrice
	if v[0] != '{' {
		return mp, &FieldError{"provider.max_price", "must be an object"}
	}
	var ferr error
	_ = jsonx.Members(v, func(m jsonx.Member) bool {
		raw := v[m.ValueStart:m.ValueEnd]
		var dst *config.Price
		var field string
		switch {
		case m.Is("prompt"):
			dst, field = &mp.Prompt, "provider.max_price.prompt"
		case m.Is("completion"):
			dst, field = &mp.Completion, "provider.max_price.completion"
		case m.Is("request"):
			dst, field = &mp.Request, "provider.max_price.request"
		case m.Is("image"):
			dst, field = &mp.Image, "provider.max_price.image"
		default:
			return true
		}
		if jsonx.IsNull(raw) {
			return true
		}
		text := string(raw)
		if raw[0] == '"' {
			s, err := jsonx.Unquote(raw)
			if err != nil {
				ferr = &FieldError{field, "must be a number"}
				return false
			}
			text = strings.TrimSpace(s)
		}
		nano, ok := parseNanoUSD(text)
		if !ok {
			ferr = &FieldError{field, "must be a non-negative number of USD, not " + strconv.Quote(text)}
			return false
		}
		*dst = config.USD(nano)
		return true
	})
	return mp, ferr
}

// parseNanoUSD reads a non-negative decimal (JSON number syntax: fraction
// and exponent allowed) as nano-units, rounded down — exact for comparing
// with prices, which are whole nano-USD. Values too large for int64 are
// clamped: such a limit limits nothing.
func parseNanoUSD(s string) (int64, bool) {
	i := 0
	digits := make([]byte, 0, 24)
	intDigits, fracDigits := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		digits = append(digits, s[i])
		i++
		intDigits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digits = append(digits, s[i])
			i++
			fracDigits++
		}
		if fracDigits == 0 {
			return 0, false
		}
	}
	if intDigits+fracDigits == 0 {
		return 0, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		neg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			neg = s[i] == '-'
			i++
		}
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if exp < 100000 {
				exp = exp*10 + int(s[i]-'0')
			}
			i++
		}
		if i == start {
			return 0, false
		}
		if neg {
			exp = -exp
		}
	}
	if i != len(s) {
		return 0, false
	}
	digits = bytes.TrimLeft(digits, "0")
	if len(digits) == 0 {
		return 0, true
	}
	// value = digits × 10^shift nano-units.
	shift := exp - fracDigits + 9
	if shift < 0 {
		if -shift >= len(digits) {
			return 0, true
		}
		digits = digits[:len(digits)+shift]
		shift = 0
	}
	if len(digits)+shift > 19 {
		return math.MaxInt64, true
	}
	n, err := strconv.ParseInt(string(digits), 10, 64)
	if err != nil {
		return math.MaxInt64, true
	}
	for ; shift > 0; shift-- {
		if n > math.MaxInt64/10 {
			return math.MaxInt64, true
		}
		n *= 10
	}
	return n, true
}
