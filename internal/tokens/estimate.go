package tokens

import "unicode/utf8"

// The estimate of a piece comes from a table of mean token counts, in
// thousandths of a token, that calibrate_test.go fits by running the real
// BPE over a corpus of prose, code and JSON (see table.go). Summing means
// over the many pieces of a text makes the errors of single pieces cancel.

const (
	maxWordLen  = 24 // word cells 1..23 are per length; cell 24 is per letter for longer words
	maxPunctLen = 12 // punct cells 1..11 per length; cell 12 is per byte for longer runs
	maxSpaceLen = 16 // space cells 1..15 per length; cell 16 is per byte for longer runs
)

// Word prefixes: the optional character before a word's letters. BPE
// merges some of them with common words (" the", ".get", "(self", "_id")
// far more often than others ("=Path", "@data").
const (
	prefixNone  = iota
	prefixSpace // ' '
	prefixQuote // " ' `
	prefixDot   // .
	prefixOpen  // ( [ {
	prefixUnder // _
	prefixSlash // / \
	prefixOther // any other ASCII character
	prefixWide  // a non-ASCII character
	prefixInner // the second and later humps of a word that changes case inside (the Name of userName)
	numPrefixes //
)

var asciiPrefix = func() (t [utf8.RuneSelf]uint8) {
	for c := range t {
		t[c] = prefixOther
	}
	for c, p := range map[byte]uint8{
		' ': prefixSpace, '"': prefixQuote, '\'': prefixQuote, '`': prefixQuote, '.': prefixDot,
		'(': prefixOpen, '[': prefixOpen, '{': prefixOpen, '_': prefixUnder, '/': prefixSlash, '\\': prefixSlash,
	} {
		t[c] = p
	}
	return t
}()

// ASCII word shapes.
const (
	shapeLower = iota // hello
	shapeTitle        // Hello
	shapeUpper        // HELLO, I
	numShapes
)

// Scripts of non-ASCII letters, each with its own tokens-per-rune figure.
const (
	scriptLatin = iota
	scriptGreek
	scriptCyrillic
	scriptArabicHebrew
	scriptIndic
	scriptThai
	scriptHan
	scriptKana
	scriptHangul
	scriptOther
	numScripts
)

// table holds one encoding's calibrated means, in milli-tokens.
type table struct {
	word [numPrefixes][numShapes][maxWordLen + 1]uint16
	// nonASCIIPrefix is what a word's leading character adds (or, for a
	// space that merges with the first letters, takes away) when the word
	// has non-ASCII letters.
	nonASCIIPrefix [numPrefixes]int16
	// A word with non-ASCII letters costs scriptWord of the script of its
	// first such letter, plus script per non-ASCII letter or mark, plus
	// its ASCII letters' estimate: common words are single tokens whatever
	// their length, so a per-letter figure alone overprices them.
	scriptWord [numScripts]int16
	script     [numScripts]uint16
	// number is by digit count (ASCII digits); numberNonASCII is per rune.
	number         [4]uint16
	numberNonASCII uint16
	// punct is by ASCII byte count (trailing newlines included), with and
	// without a leading space; punctNonASCII is per non-ASCII symbol rune
	// by its UTF-8 length.
	punct         [2][maxPunctLen + 1]uint16
	punctNonASCII [5]uint16
	// space is horizontal whitespace by byte count; newline is whitespace
	// that ends in a line break.
	space       [maxSpaceLen + 1]uint16
	newline     [maxSpaceLen + 1]uint16
	contraction uint16
}

// estimate returns the estimated token count of s under t.
func (t *table) estimate(s string, o200k bool) int {
	if s == "" {
		return 0
	}
	milli := 0
	for i := 0; i < len(s); {
		end, kind := nextPiece(s, i, o200k)
		milli += t.piece(s[i:end], kind)
		i = end
	}
	n := (milli + 500) / 1000
	if n < 1 {
		n = 1
	}
	return n
}

// piece returns the estimate of one piece in milli-tokens.
func (t *table) piece(p string, kind pieceKind) int {
	switch kind {
	case pieceWord:
		return t.wordPiece(p)
	case pieceNumber:
		if len(p) <= 3 && p[0] < utf8.RuneSelf && p[len(p)-1] < utf8.RuneSelf {
			return int(t.number[len(p)])
		}
		return int(t.numberNonASCII) * utf8.RuneCountInString(p)
	case piecePunct:
		return t.punctPiece(p)
	case pieceSpace:
		return t.spacePiece(p)
	default:
		return int(t.contraction)
	}
}

func (t *table) wordPiece(p string) int {
	prefix, letters := splitPrefix(p)
	if !isASCII(letters) {
		return t.nonASCIIWord(prefix, letters)
	}
	return t.asciiWord(prefix, letters)
}

// splitPrefix separates a word piece's optional leading non-letter.
func splitPrefix(p string) (prefix int, letters string) {
	if c := p[0]; c < utf8.RuneSelf {
		if asciiClass[c]&clsLetter != 0 {
			return prefixNone, p
		}
		return int(asciiPrefix[c]), p[1:]
	}
	r, n := utf8.DecodeRuneInString(p)
	if isLetter(r) || isUpperO(r) {
		return prefixNone, p
	}
	return prefixWide, p[n:]
}

// asciiWord estimates ASCII letters. A word that changes case inside
// (camelCase, HTMLParser) is estimated hump by hump, as BPE splits it.
func (t *table) asciiWord(prefix int, w string) int {
	milli := 0
	for start := 0; start < len(w); {
		end := nextHump(w, start)
		milli += t.hump(prefix, w[start:end])
		prefix, start = prefixInner, end
	}
	return milli
}

// nextHump returns the end of the hump of letters that starts at start: a
// word breaks before an upper-case letter that follows a lower-case one
// (userName) or that starts a capitalised word after capitals (HTMLParser).
func nextHump(w string, start int) int {
	for i := start + 1; i < len(w); i++ {
		if asciiClass[w[i]]&clsUpper == 0 {
			continue
		}
		if asciiClass[w[i-1]]&clsUpper == 0 || (i+1 < len(w) && asciiClass[w[i+1]]&clsLower != 0) {
			return i
		}
	}
	return len(w)
}

// hump estimates a run of letters of one shape.
func (t *table) hump(prefix int, w string) int {
	cells := &t.word[prefix][humpShape(w)]
	if len(w) < maxWordLen {
		return int(cells[len(w)])
	}
	return int(cells[maxWordLen]) * len(w)
}

func humpShape(w string) int {
	if asciiClass[w[0]]&clsUpper == 0 {
		return shapeLower
	}
	if len(w) > 1 && asciiClass[w[1]]&clsLower != 0 {
		return shapeTitle
	}
	return shapeUpper
}

func (t *table) nonASCIIWord(prefix int, w string) int {
	milli := int(t.nonASCIIPrefix[prefix])
	asciiStart, first := -1, true
	for i := 0; i < len(w); {
		c := w[i]
		if c < utf8.RuneSelf {
			if asciiStart < 0 {
				asciiStart = i
			}
			i++
			continue
		}
		if asciiStart >= 0 {
			milli += t.asciiWord(prefixNone, w[asciiStart:i])
			asciiStart = -1
		}
		r, n := utf8.DecodeRuneInString(w[i:])
		script := scriptOf(r)
		if first {
			milli += int(t.scriptWord[script])
			first = false
		}
		milli += int(t.script[script])
		i += n
	}
	if asciiStart >= 0 {
		milli += t.asciiWord(prefixNone, w[asciiStart:])
	}
	return max(milli, 0)
}

func (t *table) punctPiece(p string) int {
	space := 0
	if p[0] == ' ' {
		space, p = 1, p[1:]
	}
	ascii, milli := 0, 0
	for i := 0; i < len(p); {
		if p[i] < utf8.RuneSelf {
			ascii++
			i++
			continue
		}
		_, n := utf8.DecodeRuneInString(p[i:])
		milli += int(t.punctNonASCII[n])
		i += n
	}
	if ascii < maxPunctLen {
		return milli + int(t.punct[space][ascii])
	}
	return milli + int(t.punct[space][maxPunctLen])*ascii
}

func (t *table) spacePiece(p string) int {
	cells := &t.space
	if c := p[len(p)-1]; c == '\n' || c == '\r' {
		cells = &t.newline
	}
	if len(p) < maxSpaceLen {
		return int(cells[len(p)])
	}
	return int(cells[maxSpaceLen]) * len(p)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// scriptOf buckets a non-ASCII letter by the writing systems whose
// tokenization density differs most.
func scriptOf(r rune) int {
	switch {
	case r < 0x250 || (r >= 0x1E00 && r < 0x1F00):
		return scriptLatin
	case r >= 0x370 && r < 0x400 || (r >= 0x1F00 && r < 0x2000):
		return scriptGreek
	case r >= 0x400 && r < 0x530:
		return scriptCyrillic
	case r >= 0x590 && r < 0x780 || (r >= 0xFB1D && r < 0xFF00):
		return scriptArabicHebrew
	case r >= 0x900 && r < 0xE00:
		return scriptIndic
	case r >= 0xE00 && r < 0xF00:
		return scriptThai
	case r >= 0x3040 && r < 0x3100 || (r >= 0x31F0 && r < 0x3200) || (r >= 0xFF66 && r < 0xFFA0):
		return scriptKana
	case r >= 0x3400 && r < 0xA000 || (r >= 0xF900 && r < 0xFB00) || r >= 0x20000:
		return scriptHan
	case r >= 0xAC00 && r < 0xD7B0 || (r >= 0x1100 && r < 0x1200) || (r >= 0x3130 && r < 0x3190):
		return scriptHangul
	default:
		return scriptOther
	}
}
