package tokens

import (
	"unicode"
	"unicode/utf8"
)

// This file splits text the way tiktoken's pre-tokenizer regular
// expressions do before byte-pair encoding. BPE never merges across these
// pieces, so a count is the sum of per-piece counts; estimating a piece is
// far easier than estimating a text. The expressions use a negative
// lookahead that RE2 lacks, and a hand-written scanner is also several times
// faster than any regexp, so both are emulated here rune by rune.
//
// cl100k_base:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// o200k_base:
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//	\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+

// pieceKind is which alternative of the expression matched a piece.
type pieceKind uint8

const (
	pieceWord        pieceKind = iota // letters, with at most one leading non-letter
	pieceNumber                       // one to three digits
	piecePunct                        // symbols, with an optional leading space and trailing newlines
	pieceSpace                        // whitespace
	pieceContraction                  // 's 't 're 've 'm 'll 'd (cl100k only; o200k glues them to the word)
)

// ASCII character classes.
const (
	clsLetter uint8 = 1 << iota
	clsUpper
	clsLower
	clsDigit
	clsSpace
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsLetter | clsLower
		t[c-'a'+'A'] = clsLetter | clsUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clsDigit
	}
	for _, c := range "\t\n\v\f\r " {
		t[c] = clsSpace
	}
	return t
}()

func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// isLetter is \p{L}.
func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&clsLetter != 0
	}
	return unicode.IsLetter(r)
}

// isNumber is \p{N}.
func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&clsDigit != 0
	}
	return unicode.IsNumber(r)
}

// isSpace is \s (Unicode White_Space).
func isSpace(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&clsSpace != 0
	}
	return unicode.IsSpace(r)
}

// isPunct is [^\s\p{L}\p{N}].
func isPunct(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// canPrefix is [^\r\n\p{L}\p{N}], the optional character before a word.
func canPrefix(r rune) bool { return r != '\r' && r != '\n' && !isLetter(r) && !isNumber(r) }

// isUpperO is o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}].
func isUpperO(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&clsUpper != 0
	}
	return unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M)
}

// isLowerO is o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}].
func isLowerO(r rune) bool {
	if r < utf8.RuneSelf {
		return asciiClass[r]&clsLower != 0
	}
	return unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M)
}

// contraction returns the length of (?i:'s|'t|'re|'ve|'m|'ll|'d) at i, or 0.
func contraction(s string, i int) int {
	if i+1 >= len(s) || s[i] != '\'' {
		return 0
	}
	switch s[i+1] | 0x20 {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v':
		if i+2 < len(s) && s[i+2]|0x20 == 'e' {
			return 3
		}
	case 'l':
		if i+2 < len(s) && s[i+2]|0x20 == 'l' {
			return 3
		}
	}
	return 0
}

// nextPiece returns the end of the piece that starts at i (i < len(s)).
func nextPiece(s string, i int, o200k bool) (int, pieceKind) {
	if o200k {
		return nextO200K(s, i)
	}
	return nextCL100K(s, i)
}

func nextCL100K(s string, i int) (int, pieceKind) {
	r0, n0 := decodeRune(s, i)
	if n := contraction(s, i); n > 0 {
		return i + n, pieceContraction
	}
	if isLetter(r0) {
		return scanLetters(s, i+n0), pieceWord
	}
	if canPrefix(r0) && i+n0 < len(s) {
		if r1, n1 := decodeRune(s, i+n0); isLetter(r1) {
			return scanLetters(s, i+n0+n1), pieceWord
		}
	}
	if isNumber(r0) {
		return scanNumber(s, i+n0), pieceNumber
	}
	if end, ok := scanPunct(s, i, r0, false); ok {
		return end, piecePunct
	}
	return scanSpace(s, i), pieceSpace
}

func nextO200K(s string, i int) (int, pieceKind) {
	if c := s[i]; c < utf8.RuneSelf && asciiClass[c]&clsLetter != 0 {
		// A letter cannot be the optional leading character: only the
		// word alternatives without it remain.
		if end, ok := wordO200KLower(s, i); ok {
			return end, pieceWord
		}
		end, _ := wordO200KUpper(s, i)
		return end, pieceWord
	}
	r0, n0 := decodeRune(s, i)
	prefixed := canPrefix(r0) && i+n0 < len(s)
	// The alternatives in the expression's order: the first (upper*lower+)
	// with and then without the optional leading character, then the second
	// (upper+lower*) likewise.
	if prefixed {
		if end, ok := wordO200KLower(s, i+n0); ok {
			return end, pieceWord
		}
	}
	if end, ok := wordO200KLower(s, i); ok {
		return end, pieceWord
	}
	if prefixed {
		if end, ok := wordO200KUpper(s, i+n0); ok {
			return end, pieceWord
		}
	}
	if end, ok := wordO200KUpper(s, i); ok {
		return end, pieceWord
	}
	if isNumber(r0) {
		return scanNumber(s, i+n0), pieceNumber
	}
	if end, ok := scanPunct(s, i, r0, true); ok {
		return end, piecePunct
	}
	return scanSpace(s, i), pieceSpace
}

// wordO200KLower matches [U]*[L]+ contraction? at j, where U and L are
// o200k's upper and lower classes (which overlap on Lm, Lo and M).
func wordO200KLower(s string, j int) (int, bool) {
	k, lastLowerEnd := j, -1
	for k < len(s) {
		if c := s[k]; c < utf8.RuneSelf {
			if asciiClass[c]&clsUpper == 0 {
				break
			}
			k++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[k:])
		if !isUpperO(r) {
			break
		}
		k += n
		if isLowerO(r) {
			lastLowerEnd = k
		}
	}
	end := scanLowerO(s, k)
	if end == k {
		// Backtrack: the greedy upper run gives back its last rune that is
		// also in the lower class.
		if lastLowerEnd < 0 {
			return 0, false
		}
		end = lastLowerEnd
	}
	return end + contraction(s, end), true
}

// wordO200KUpper matches [U]+[L]* contraction? at j.
func wordO200KUpper(s string, j int) (int, bool) {
	k := j
	for k < len(s) {
		if c := s[k]; c < utf8.RuneSelf {
			if asciiClass[c]&clsUpper == 0 {
				break
			}
			k++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[k:])
		if !isUpperO(r) {
			break
		}
		k += n
	}
	if k == j {
		return 0, false
	}
	k = scanLowerO(s, k)
	return k + contraction(s, k), true
}

// scanLowerO returns the end of the o200k lower-class run at i.
func scanLowerO(s string, i int) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiClass[c]&clsLower == 0 {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isLowerO(r) {
			return i
		}
		i += n
	}
	return i
}

// scanLetters returns the end of the \p{L}* run at i.
func scanLetters(s string, i int) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiClass[c]&clsLetter == 0 {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsLetter(r) {
			return i
		}
		i += n
	}
	return i
}

// scanNumber returns the end of \p{N}{1,3} whose first rune ends at i.
func scanNumber(s string, i int) int {
	for k := 1; k < 3 && i < len(s); k++ {
		r, n := decodeRune(s, i)
		if !isNumber(r) {
			break
		}
		i += n
	}
	return i
}

// scanPunct matches " ?[^\s\p{L}\p{N}]+[\r\n]*" at i (o200k also takes
// trailing slashes).
func scanPunct(s string, i int, r0 rune, o200k bool) (int, bool) {
	j := i
	if r0 == ' ' {
		j++
	}
	start := j
	for j < len(s) {
		r, n := decodeRune(s, j)
		if !isPunct(r) {
			break
		}
		j += n
	}
	if j == start {
		return 0, false
	}
	for j < len(s) && (s[j] == '\r' || s[j] == '\n' || (o200k && s[j] == '/')) {
		j++
	}
	return j, true
}

// scanSpace matches \s*[\r\n]+|\s+(?!\S)|\s+ at i, where s[i] is
// whitespace.
func scanSpace(s string, i int) int {
	end, afterNewline, lastStart := i, -1, i
	for end < len(s) {
		r, n := decodeRune(s, end)
		if !isSpace(r) {
			break
		}
		lastStart = end
		end += n
		if r == '\r' || r == '\n' {
			afterNewline = end
		}
	}
	switch {
	case afterNewline > 0:
		return afterNewline
	case end == len(s) || lastStart == i:
		return end
	default:
		// Leave the last whitespace rune to prefix the next word.
		return lastStart
	}
}
