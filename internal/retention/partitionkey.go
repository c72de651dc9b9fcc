package retention

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// unit is the time span of one partition.
type unit int

const (
	day unit = iota
	month
)

func (u unit) String() string {
	if u == month {
		return "month"
	}
	return "day"
}

// start is the beginning of the unit that holds t.
func (u unit) start(t time.Time) time.Time {
	y, m, d := t.Date()
	if u == month {
		d = 1
	}
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func (u unit) next(start time.Time) time.Time {
	if u == month {
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// parseID reads a partition id as the server writes it for the keys
// parsePartitionKey accepts: YYYYMMDD for a day (toYYYYMMDD, and toDate
// whose ids are the same digits) and YYYYMM or the first day's YYYYMMDD
// for a month (toYYYYMM, toStartOfMonth). It returns the unit's start.
func (u unit) parseID(id string) (time.Time, bool) {
	for _, r := range id {
		if r < '0' || r > '9' {
			return time.Time{}, false
		}
	}
	layout := "20060102"
	if u == month && len(id) == 6 {
		layout = "200601"
	}
	if len(id) != len(layout) {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation(layout, id, time.UTC)
	if err != nil || u.start(t) != t {
		return time.Time{}, false
	}
	return t, true
}

// partitionKey is a table's partition key that retention understands.
type partitionKey struct {
	unit unit
	// timeExpr is the key's time argument as the server prints it, e.g.
	// "ts" or "toDateTime(intDiv(started_at_ms, 1000), 'UTC')": the time
	// a row's TTL counts from.
	timeExpr string
}

var keyFunctions = map[string]unit{
	"toYYYYMMDD":     day,
	"toDate":         day,
	"toYYYYMM":       month,
	"toStartOfMonth": month,
}

var callRE = regexp.MustCompile(`^(\w+)\((.*)\)$`)

// parsePartitionKey reads system.tables.partition_key.
func parsePartitionKey(expr string) (partitionKey, bool) {
	m := callRE.FindStringSubmatch(strings.TrimSpace(expr))
	if m == nil {
		return partitionKey{}, false
	}
	u, ok := keyFunctions[m[1]]
	if !ok {
		return partitionKey{}, false
	}
	args, ok := splitArgs(m[2])
	if !ok || len(args) == 0 || len(args) > 2 || args[0] == "" {
		return partitionKey{}, false
	}
	return partitionKey{unit: u, timeExpr: args[0]}, true
}

// splitArgs splits a function's argument list at its top-level commas,
// respecting parentheses, brackets and quoted strings. It fails on an
// unbalanced list, which also rejects a string like "a), f(b" that only
// looks like one call.
func splitArgs(list string) ([]string, bool) {
	var (
		args  []string
		depth int
		quote rune
		start int
	)
	runes := []rune(list)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote != 0:
			if r == '\\' {
				i++
			} else if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"' || r == '`':
			quote = r
		case r == '(' || r == '[':
			depth++
		case r == ')' || r == ']':
			depth--
			if depth < 0 {
				return nil, false
			}
		case r == ',' && depth == 0:
			args = append(args, strings.TrimSpace(string(runes[start:i])))
			start = i + 1
		}
	}
	if depth != 0 || quote != 0 {
		return nil, false
	}
	return append(args, strings.TrimSpace(string(runes[start:]))), true
}

// ttl is the table TTL that keeps rows for days.
func (k partitionKey) ttl(days int) string {
	return k.timeExpr + " + toIntervalDay(" + strconv.Itoa(days) + ")"
}

var ownTTLSuffixRE = regexp.MustCompile(`\s*\+\s*toIntervalDay\(\d+\)$`)

// isOwnTTL reports whether a table TTL has the shape ttl gives, so that
// retention may remove it; a TTL someone set by hand is left alone.
func (k partitionKey) isOwnTTL(ttl string) bool {
	loc := ownTTLSuffixRE.FindStringIndex(ttl)
	return loc != nil && sameExpression(ttl[:loc[0]], k.timeExpr)
}

// tableTTL extracts the table TTL from system.tables.engine_full, which
// current releases print as "<engine> PARTITION BY ... ORDER BY ... TTL
// <expr> SETTINGS ...". It is empty when the table has none.
func tableTTL(engineFull string) string {
	_, after, found := strings.Cut(engineFull, " TTL ")
	if !found {
		return ""
	}
	if i := strings.LastIndex(after, " SETTINGS "); i >= 0 {
		after = after[:i]
	}
	return strings.TrimSpace(after)
}

// sameExpression compares two expressions as the server prints them,
// ignoring differences of spacing.
func sameExpression(a, b string) bool {
	return strings.Join(strings.Fields(a), " ") == strings.Join(strings.Fields(b), " ")
}
