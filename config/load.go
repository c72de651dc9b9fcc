package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, interpolates, decodes, defaults and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, err := Parse(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Parse decodes a config document. ${VAR} and ${VAR:-default} in scalar
// values are replaced from lookupEnv ($$ is a literal $); keys the schema
// does not know are errors. The result has defaults applied and is valid.
func Parse(data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	var errs []error
	interpolateNode(&doc, lookupEnv, &errs)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// yaml.Node.Decode cannot reject unknown keys, so the interpolated tree
	// goes through a strict decoder once more.
	expanded, err := yaml.Marshal(&doc)
	if err != nil {
		return nil, err
	}
	cfg := &Config{}
	if len(doc.Content) > 0 {
		dec := yaml.NewDecoder(bytes.NewReader(expanded))
		dec.KnownFields(true)
		if err := dec.Decode(cfg); err != nil {
			return nil, err
		}
	}
	cfg.ApplyDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

func interpolateNode(n *yaml.Node, lookupEnv func(string) (string, bool), errs *[]error) {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "$") {
		v, err := Interpolate(n.Value, lookupEnv)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("line %d: %w", n.Line, err))
			return
		}
		if v != n.Value {
			n.Value = v
			if n.Style == 0 {
				// A plain scalar takes the type of what it now says, so that
				// `partitions: ${PARTITIONS}` decodes as a number.
				n.Tag = ""
			}
		}
	}
	for _, c := range n.Content {
		interpolateNode(c, lookupEnv, errs)
	}
}

// Interpolate expands ${VAR} and ${VAR:-default} in s. An unset variable
// without a default is an error naming it.
func Interpolate(s string, lookupEnv func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '$' {
			b.WriteByte(c)
			continue
		}
		if i+1 < len(s) && s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		if i+1 >= len(s) || s[i+1] != '{' {
			b.WriteByte(c)
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated ${ in %q", s)
		}
		expr := s[i+2 : i+end]
		name, def, hasDef := strings.Cut(expr, ":-")
		if !validEnvName(name) {
			return "", fmt.Errorf("invalid variable name %q", name)
		}
		v, ok := lookupEnv(name)
		switch {
		case ok && v != "":
			b.WriteString(v)
		case hasDef:
			b.WriteString(def)
		case ok:
			// Set but empty, no default: an empty value.
		default:
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		i += end
	}
	return b.String(), nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}
