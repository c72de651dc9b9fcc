//go:build calibrate

// This file fits table.go against the real encodings and writes the exact
// counts of testdata/holdout and testdata/messages to
// testdata/holdout/counts.golden.json. It needs a real BPE, which the
// module does not depend on, so it is built only with the calibrate tag, in
// a workspace that adds one:
//
//	mkdir -p /tmp/tokref && cd /tmp/tokref && go mod init tokref &&
//	  go get github.com/tiktoken-go/tokenizer@v0.10.0
//	printf 'go 1.26.8\nuse (\n\t%s\n\t/tmp/tokref\n)\n' "$SWITCHYARD_DIR" > /tmp/tokref.work
//	GOWORK=/tmp/tokref.work CALIBRATE_MANPAGES=1 \
//	  go test -tags calibrate -run TestCalibrate -v ./internal/tokens/
//
// It also checks the scanner of pretokenize.go against the real
// expressions on every text (the committed table: 0 of 2 million pieces
// differ). The corpus is whatever prose, code and JSON the machine has
// (licence texts, Go, Python and JavaScript sources, Markdown and JSON from
// the module cache, the OpenAI OpenAPI document) plus
// testdata/multilingual_fit.txt and generated identifiers; it is only read,
// never shipped. CALIBRATE_MANPAGES=1 adds text in other languages from
// the translated manual pages of a Debian machine (about 120 KB in each of
// 18 languages, roff markup stripped), of which only the non-ASCII words
// are fitted; the committed table used them. CALIBRATE_VERBOSE=1 logs the
// error by kind of piece.
package tokens

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"go/format"
	"io"
	"io/fs"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
	"github.com/tiktoken-go/tokenizer"
)

const (
	cl100kPattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	o200kPattern  = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

type corpusText struct {
	category string
	name     string
	text     string
}

// collect reads up to limit bytes of files matching ext under roots.
func collect(t *testing.T, category string, limit int, exts []string, roots ...string) []corpusText {
	var out []corpusText
	total := 0
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || total >= limit {
				if d != nil && d.IsDir() && err == nil {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if strings.Contains(path, "testdata") && category != "json" {
					return filepath.SkipDir
				}
				return nil
			}
			ok := len(exts) == 0
			for _, e := range exts {
				ok = ok || strings.HasSuffix(path, e)
			}
			if !ok {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil || len(b) == 0 || len(b) > 256<<10 || !utf8.Valid(b) || bytes.Contains(b, []byte("<|")) {
				return nil
			}
			out = append(out, corpusText{category, path, string(b)})
			total += len(b)
			return nil
		})
	}
	if len(out) == 0 {
		t.Logf("no %s corpus under %v", category, roots)
	}
	return out
}

func generatedIDs() corpusText {
	rng := rand.New(rand.NewSource(1))
	var b strings.Builder
	for i := 0; i < 600; i++ {
		raw := make([]byte, 8+rng.Intn(48))
		rng.Read(raw)
		id := make([]byte, 16)
		rng.Read(id)
		fmt.Fprintf(&b, "{\"id\":\"%x-%x-%x-%x-%x\",\"sha\":\"%s\",\"blob\":\"%s\",\"n\":%d}\n",
			id[0:4], id[4:6], id[6:8], id[8:10], id[10:], hex.EncodeToString(raw[:8]), base64.StdEncoding.EncodeToString(raw), rng.Intn(1_000_000))
	}
	return corpusText{"ids", "generated", b.String()}
}

func loadCorpus(t *testing.T) []corpusText {
	goroot := runtime.GOROOT()
	modcache := filepath.Join(os.Getenv("HOME"), "go", "pkg", "mod")
	var c []corpusText
	c = append(c, collect(t, "prose", 1<<20, nil, "/usr/share/common-licenses/Apache-2.0", "/usr/share/common-licenses/GPL-3",
		"/usr/share/common-licenses/MPL-2.0", "/usr/share/common-licenses/GFDL-1.3", "/usr/share/common-licenses/Artistic")...)
	c = append(c, collect(t, "markdown", 2<<20, []string{".md"}, modcache, filepath.Join(goroot, "doc"))...)
	c = append(c, collect(t, "go", 2<<20, []string{".go"}, filepath.Join(goroot, "src", "net", "http"), filepath.Join(goroot, "src", "encoding"),
		filepath.Join(goroot, "src", "strings"), filepath.Join(goroot, "src", "go"), filepath.Join(goroot, "src", "os"))...)
	c = append(c, collect(t, "python", 1<<20, []string{".py"}, "/usr/lib/python3.11/email", "/usr/lib/python3.11/json",
		"/usr/lib/python3.11/http", "/usr/lib/python3.11/asyncio", "/usr/lib/python3.11/logging")...)
	c = append(c, collect(t, "js", 1<<20, []string{".js"}, "/usr/lib/node_modules/npm/lib", "/usr/lib/node_modules/npm/node_modules")...)
	c = append(c, collect(t, "json", 2<<20, []string{".json"}, modcache, "/usr/lib/node_modules/npm")...)
	if b, err := os.ReadFile("/work/shared/specs/openai-openapi.json"); err == nil {
		for i := 0; i < len(b) && i < 2<<20; i += 64 << 10 {
			chunk := b[i:min(len(b), i+64<<10)]
			for !utf8.Valid(chunk) {
				chunk = chunk[:len(chunk)-1]
			}
			c = append(c, corpusText{"json", "openai-openapi.json", string(chunk)})
		}
	}
	ml, err := os.ReadFile("testdata/multilingual_fit.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(ml), "\n") {
		c = append(c, corpusText{"multilingual", "multilingual_fit.txt", line + "\n"})
	}
	if os.Getenv("CALIBRATE_MANPAGES") != "" {
		c = append(c, manPages(t)...)
	}
	c = append(c, generatedIDs())
	return c
}

type refCounter struct {
	codec tokenizer.Codec
	cache map[string]int
}

func (r *refCounter) count(t *testing.T, s string) int {
	if n, ok := r.cache[s]; ok {
		return n
	}
	n, err := r.codec.Count(s)
	if err != nil {
		t.Fatal(err)
	}
	r.cache[s] = n
	return n
}

type cell struct{ tokens, n, units, rates float64 }

func (c *cell) add(tokens, units int) {
	c.tokens += float64(tokens)
	c.n++
	c.units += float64(units)
	c.rates += float64(tokens) / float64(units)
}

type sample struct {
	piece  string
	kind   pieceKind
	tokens int
}

type fitter struct {
	word           [numPrefixes][numShapes][maxWordLen + 1]cell
	number         [4]cell
	numberNonASCII cell
	punct          [2][maxPunctLen + 1]cell
	space, newline [maxSpaceLen + 1]cell
	contraction    cell
	deferred       []sample // non-ASCII words and symbols, fitted after the ASCII cells
	multiHump      []sample // ASCII words that change case inside
}

func (f *fitter) observe(p string, kind pieceKind, tokens int) {
	switch kind {
	case pieceWord:
		prefix, letters := splitPrefix(p)
		if !isASCII(letters) {
			f.deferred = append(f.deferred, sample{p, kind, tokens})
			return
		}
		if nextHump(letters, 0) != len(letters) {
			f.multiHump = append(f.multiHump, sample{p, kind, tokens})
			return
		}
		f.word[prefix][humpShape(letters)][min(len(letters), maxWordLen)].add(tokens, len(letters))
	case pieceNumber:
		if isASCII(p) {
			f.number[len(p)].add(tokens, 1)
		} else {
			f.numberNonASCII.add(tokens, utf8.RuneCountInString(p))
		}
	case piecePunct:
		space, rest := 0, p
		if p[0] == ' ' {
			space, rest = 1, p[1:]
		}
		if !isASCII(rest) {
			f.deferred = append(f.deferred, sample{p, kind, tokens})
			return
		}
		f.punct[space][min(len(rest), maxPunctLen)].add(tokens, len(rest))
	case pieceSpace:
		cells := &f.space
		if c := p[len(p)-1]; c == '\n' || c == '\r' {
			cells = &f.newline
		}
		cells[min(len(p), maxSpaceLen)].add(tokens, len(p))
	case pieceContraction:
		f.contraction.add(tokens, 1)
	}
}

const minSamples = 20

// mean returns the milli-token mean of c, per unit for the last (per-unit)
// cell, and whether it has enough samples.
func (c cell) mean(perUnit bool) (uint16, bool) {
	if c.n < minSamples {
		return 0, false
	}
	v := c.tokens / c.n
	if perUnit {
		v = c.tokens / c.units
	}
	return uint16(v*1000 + 0.5), true
}

// fillRow turns a row of cells into milli-tokens, filling cells that have
// too few samples from fallback (same length, another row) or by scaling
// the nearest shorter cell.
func fillRow(cells []cell, fallback []uint16) []uint16 {
	last := len(cells) - 1
	out := make([]uint16, len(cells))
	have := make([]bool, len(cells))
	for i := 1; i <= last; i++ {
		out[i], have[i] = cells[i].mean(i == last)
	}
	for i := 1; i <= last; i++ {
		if have[i] {
			continue
		}
		if fallback != nil && fallback[i] > 0 {
			out[i] = fallback[i]
			continue
		}
		j := i - 1
		for j > 0 && !have[j] {
			j--
		}
		switch {
		case j == 0:
			out[i] = 1000
		case i == last:
			out[i] = uint16(float64(out[j]) / float64(j))
		default:
			out[i] = uint16(float64(out[j]) * max(1, float64(i)/float64(j)*0.8))
		}
		have[i] = true
	}
	return out
}

func (f *fitter) table(t *testing.T) *table {
	tb := &table{}
	// Long words are rare and odd (runs of one letter, concatenated
	// identifiers, base64), so sparse cells and the per-letter cell for the
	// longest take one pooled rate rather than their few samples.
	// The mean of the words' rates, so that a few huge runs of one letter
	// weigh no more than any other word.
	var longRates, longWords [numPrefixes]float64
	var allRates, allWords float64
	for p := range numPrefixes {
		for s := range numShapes {
			for i := 14; i <= maxWordLen; i++ {
				longRates[p] += f.word[p][s][i].rates
				longWords[p] += f.word[p][s][i].n
			}
		}
		allRates += longRates[p]
		allWords += longWords[p]
	}
	var longRate [numPrefixes]float64
	for p := range numPrefixes {
		longRate[p] = allRates / allWords
		if longWords[p] >= minSamples {
			longRate[p] = longRates[p] / longWords[p]
		}
	}
	t.Logf("pooled rates of words of 14 letters or more, by prefix: %.3f tokens per letter", longRate)
	fillWords := func() {
		for p := range numPrefixes {
			for s := range numShapes {
				var fb []uint16
				switch {
				case p != prefixNone && p != prefixOther && p != prefixInner:
					fb = tb.word[prefixOther][s][:]
				case p != prefixNone:
					fb = tb.word[prefixNone][s][:]
				case s != shapeLower:
					fb = tb.word[p][shapeLower][:]
				}
				row := &tb.word[p][s]
				for i := 1; i < maxWordLen; i++ {
					if v, ok := f.word[p][s][i].mean(false); ok {
						row[i] = v
					} else if fb != nil && fb[i] > 0 {
						row[i] = fb[i]
					} else {
						row[i] = uint16(max(1000, longRate[p]*float64(i)*1000))
					}
				}
				row[maxWordLen] = uint16(longRate[p]*1000 + 0.5)
			}
		}
	}
	fillWords()
	// Inner humps: what a word of two humps costs beyond its first.
	for _, smp := range f.multiHump {
		prefix, letters := splitPrefix(smp.piece)
		first := nextHump(letters, 0)
		if nextHump(letters, first) != len(letters) {
			continue
		}
		inner := letters[first:]
		rest := smp.tokens*1000 - tb.hump(prefix, letters[:first])
		f.word[prefixInner][humpShape(inner)][min(len(inner), maxWordLen)].add(rest, len(inner)*1000)
	}
	for s := range numShapes {
		for i := range f.word[prefixInner][s] {
			c := &f.word[prefixInner][s][i]
			c.tokens /= 1000
			c.units /= 1000
		}
	}
	fillWords()
	for i := 1; i <= 3; i++ {
		tb.number[i] = 1000
		if v, ok := f.number[i].mean(false); ok {
			tb.number[i] = v
		}
	}
	tb.numberNonASCII = 1000
	if v, ok := f.numberNonASCII.mean(true); ok {
		tb.numberNonASCII = v
	}
	copy(tb.punct[0][:], fillRow(f.punct[0][:], nil))
	copy(tb.punct[1][:], fillRow(f.punct[1][:], tb.punct[0][:]))
	// A leading space alone before non-ASCII symbols.
	tb.punct[1][0] = 0
	copy(tb.space[:], fillRow(f.space[:], nil))
	copy(tb.newline[:], fillRow(f.newline[:], nil))
	tb.contraction = 1000
	if v, ok := f.contraction.mean(false); ok {
		tb.contraction = v
	}

	// Non-ASCII: script figures from words without a leading character,
	// then what a leading character adds, then symbols by UTF-8 length.
	for s := range numScripts {
		tb.script[s] = 1000
	}
	// Per script, a least-squares line through (non-ASCII letters, tokens
	// left after the ASCII letters) of the words that start with no
	// character or a space.
	var sn, sy, snn, sny, cnt [numScripts]float64
	for _, smp := range f.deferred {
		if smp.kind != pieceWord {
			continue
		}
		prefix, letters := splitPrefix(smp.piece)
		if prefix != prefixNone && prefix != prefixSpace {
			continue
		}
		rest := float64(smp.tokens)
		runes, script := 0.0, -1
		asciiStart := -1
		for i := 0; i < len(letters); {
			if letters[i] < utf8.RuneSelf {
				if asciiStart < 0 {
					asciiStart = i
				}
				i++
				continue
			}
			if asciiStart >= 0 {
				rest -= float64(tb.asciiWord(prefixNone, letters[asciiStart:i])) / 1000
				asciiStart = -1
			}
			r, n := utf8.DecodeRuneInString(letters[i:])
			if script < 0 {
				script = scriptOf(r)
			}
			runes++
			i += n
		}
		if asciiStart >= 0 {
			rest -= float64(tb.asciiWord(prefixNone, letters[asciiStart:])) / 1000
		}
		sn[script] += runes
		sy[script] += rest
		snn[script] += runes * runes
		sny[script] += runes * rest
		cnt[script]++
	}
	for s := range numScripts {
		if cnt[s] < 20 {
			continue
		}
		meanN, meanY := sn[s]/cnt[s], sy[s]/cnt[s]
		slope := 0.0
		if v := snn[s]/cnt[s] - meanN*meanN; v > 0 {
			slope = max(0, (sny[s]/cnt[s]-meanN*meanY)/v)
		}
		tb.script[s] = uint16(slope*1000 + 0.5)
		tb.scriptWord[s] = int16(math.Round((meanY - slope*meanN) * 1000))
	}
	var prefixResid, prefixN [numPrefixes]float64
	var symTokens, symRunes [5]float64
	for _, smp := range f.deferred {
		switch smp.kind {
		case pieceWord:
			prefix, letters := splitPrefix(smp.piece)
			prefixResid[prefix] += float64(smp.tokens) - float64(tb.nonASCIIWord(prefixNone, letters))/1000
			prefixN[prefix]++
		case piecePunct:
			space, rest := 0, smp.piece
			if rest[0] == ' ' {
				space, rest = 1, rest[1:]
			}
			ascii, widest, count := 0, 2, 0.0
			for i := 0; i < len(rest); {
				if rest[i] < utf8.RuneSelf {
					ascii++
					i++
					continue
				}
				_, n := utf8.DecodeRuneInString(rest[i:])
				widest = max(widest, n)
				count++
				i += n
			}
			base := 0.0
			if ascii > 0 || space == 1 {
				base = float64(tb.punct[space][min(ascii, maxPunctLen)]) / 1000
				if ascii >= maxPunctLen {
					base *= float64(ascii)
				}
			}
			symTokens[widest] += float64(smp.tokens) - base
			symRunes[widest] += count
		}
	}
	for p := range numPrefixes {
		if prefixN[p] >= minSamples {
			tb.nonASCIIPrefix[p] = int16(math.Round(prefixResid[p] / prefixN[p] * 1000))
		}
	}
	for w := 2; w <= 4; w++ {
		tb.punctNonASCII[w] = uint16(1000 * (w - 1))
		if symRunes[w] >= minSamples {
			tb.punctNonASCII[w] = uint16(max(0, symTokens[w]/symRunes[w])*1000 + 0.5)
		}
	}
	return tb
}

func TestCalibrate(t *testing.T) {
	corpus := loadCorpus(t)
	sizes := map[string]int{}
	for _, c := range corpus {
		sizes[c.category] += len(c.text)
	}
	t.Logf("corpus bytes by category: %v", sizes)

	encodings := []struct {
		name    string
		enc     tokenizer.Encoding
		o200k   bool
		pattern string
	}{
		{"cl100k", tokenizer.Cl100kBase, false, cl100kPattern},
		{"o200k", tokenizer.O200kBase, true, o200kPattern},
	}
	var src bytes.Buffer
	src.WriteString("// Code generated by calibrate_test.go (go test -tags calibrate); DO NOT EDIT.\n\npackage tokens\n\n")
	refs := map[string]*refCounter{}
	tables := map[string]*table{}
	for _, e := range encodings {
		codec, err := tokenizer.Get(e.enc)
		if err != nil {
			t.Fatal(err)
		}
		ref := &refCounter{codec: codec, cache: map[string]int{}}
		refs[e.name] = ref
		checkPretokenizer(t, e.name, e.pattern, e.o200k, corpus)
		f := &fitter{}
		for _, c := range corpus {
			for i := 0; i < len(c.text); {
				end, kind := nextPiece(c.text, i, e.o200k)
				p := c.text[i:end]
				// Other languages' ASCII words (Datei, fichier) would skew
				// the figures for English and code; they teach only the
				// non-ASCII figures.
				if c.category != "multilingual" || !isASCII(p) {
					f.observe(p, kind, ref.count(t, p))
				}
				i = end
			}
		}
		tb := f.table(t)
		tables[e.name] = tb
		writeTable(&src, e.name, tb)

		// In-sample error by category.
		real, est := map[string]int{}, map[string]int{}
		type kindKey struct {
			cat  string
			kind pieceKind
		}
		kindReal, kindEst := map[kindKey]float64{}, map[kindKey]float64{}
		for _, c := range corpus {
			real[c.category] += ref.count(t, c.text)
			est[c.category] += tb.estimate(c.text, e.o200k)
			if os.Getenv("CALIBRATE_VERBOSE") == "" {
				continue
			}
			for i := 0; i < len(c.text); {
				end, kind := nextPiece(c.text, i, e.o200k)
				p := c.text[i:end]
				k := kindKey{c.category, kind}
				if kind == pieceWord {
					if _, l := splitPrefix(p); isASCII(l) && nextHump(l, 0) != len(l) {
						k.kind = 9
					}
				}
				kindReal[k] += float64(ref.count(t, p))
				kindEst[k] += float64(tb.piece(p, kind)) / 1000
				i = end
			}
		}
		for k, r := range kindReal {
			t.Logf("%s %-12s kind %d real %9.0f est %9.0f err %+6.2f%%", e.name, k.cat, k.kind, r, kindEst[k], 100*(kindEst[k]-r)/r)
		}
		cats := make([]string, 0, len(real))
		for k := range real {
			cats = append(cats, k)
		}
		sort.Strings(cats)
		for _, k := range cats {
			t.Logf("%s fit %-12s real %8d est %8d err %+6.2f%%", e.name, k, real[k], est[k], 100*float64(est[k]-real[k])/float64(real[k]))
		}
	}
	out, err := format.Source(src.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("table.go", out, 0o644); err != nil {
		t.Fatal(err)
	}

	// Golden counts for calibration_test.go.
	golden := map[string]map[string]int{}
	files, _ := filepath.Glob("testdata/holdout/*")
	for _, name := range files {
		if strings.HasSuffix(name, ".golden.json") {
			continue
		}
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(name)
		golden[base] = map[string]int{}
		for _, e := range encodings {
			real := refs[e.name].count(t, string(b))
			golden[base][e.name] = real
			est := tables[e.name].estimate(string(b), e.o200k)
			t.Logf("%s holdout %-20s real %6d est %6d err %+6.2f%%", e.name, base, real, est, 100*float64(est-real)/float64(real))
		}
	}
	for _, s := range shortStrings {
		golden[s] = map[string]int{}
		for _, e := range encodings {
			golden[s][e.name] = refs[e.name].count(t, s)
		}
	}
	// Chat requests: the cookbook's framing over exact counts, for an
	// o200k and a cl100k model.
	msgFiles, _ := filepath.Glob("testdata/messages/*.json")
	for _, name := range msgFiles {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		key := "messages/" + filepath.Base(name)
		golden[key] = map[string]int{}
		for _, m := range []struct{ enc, model string }{{"cl100k", "gpt-4"}, {"o200k", "gpt-4o"}} {
			ref := refs[m.enc]
			exact, err := countMessages(m.model, body, func(s string) int { return ref.count(t, s) })
			if err != nil {
				t.Fatal(err)
			}
			golden[key][m.enc] = exact
			est, _ := CountMessages(m.model, body)
			t.Logf("%s messages %-28s exact framing %5d estimate %5d", m.enc, filepath.Base(name), exact, est)
		}
	}
	gb, _ := json.MarshalIndent(golden, "", "  ")
	if err := os.WriteFile("testdata/holdout/counts.golden.json", append(gb, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkPretokenizer compares the scanner's pieces with the real regexp's.
func checkPretokenizer(t *testing.T, name, pattern string, o200k bool, corpus []corpusText) {
	mismatches, pieces := 0, 0
	for _, c := range corpus {
		// The pattern is wrapped so that regexp2 interprets it rather than
		// use the code generated for it in the tokenizer module, which
		// splits "\n    \n" into "\n" and "    \n" where backtracking
		// (and tiktoken) keep it whole. (So the reference counts differ from
		// tiktoken's on lines of only spaces, by a token or so.)
		re := regexp2.MustCompile("(?:"+pattern+")", regexp2.None)
		text := c.text
		if len(text) > 32<<10 {
			text = text[:32<<10]
			for !utf8.ValidString(text) {
				text = text[:len(text)-1]
			}
		}
		var want []string
		m, _ := re.FindStringMatch(text)
		for m != nil {
			want = append(want, m.String())
			m, _ = re.FindNextMatch(m)
		}
		var got []string
		for i := 0; i < len(text); {
			end, _ := nextPiece(text, i, o200k)
			got = append(got, text[i:end])
			i = end
		}
		pieces += len(want)
		for i := 0; i < len(want) && i < len(got); i++ {
			if want[i] != got[i] {
				if mismatches < 5 {
					t.Errorf("%s pre-tokenizer differs in %s at piece %d: got %q want %q (before: %q)", name, c.name, i, got[i], want[i], want[max(0, i-3):i])
				}
				mismatches++
				break
			}
		}
	}
	t.Logf("%s pre-tokenizer: %d pieces, %d texts differ", name, pieces, mismatches)
}

// writeTable writes tb as Go source, in decimal milli-tokens.
func writeTable(w *bytes.Buffer, name string, tb *table) {
	list := func(v any) string {
		s := fmt.Sprint(v)
		s = strings.ReplaceAll(strings.ReplaceAll(s, "[", "{"), "]", "}")
		return strings.ReplaceAll(s, " ", ", ")
	}
	prefixes := []string{"prefixNone", "prefixSpace", "prefixQuote", "prefixDot", "prefixOpen", "prefixUnder", "prefixSlash", "prefixOther", "prefixWide", "prefixInner"}
	shapes := []string{"shapeLower", "shapeTitle", "shapeUpper"}
	scripts := []string{"scriptLatin", "scriptGreek", "scriptCyrillic", "scriptArabicHebrew", "scriptIndic", "scriptThai", "scriptHan", "scriptKana", "scriptHangul", "scriptOther"}
	fmt.Fprintf(w, "var %sTable = &table{\n", name)
	fmt.Fprintf(w, "word: [numPrefixes][numShapes][maxWordLen + 1]uint16{\n")
	for p, pn := range prefixes {
		fmt.Fprintf(w, "%s: {\n", pn)
		for s, sn := range shapes {
			fmt.Fprintf(w, "%s: %s,\n", sn, list(tb.word[p][s]))
		}
		fmt.Fprintf(w, "},\n")
	}
	fmt.Fprintf(w, "},\n")
	named := func(field, typ string, vals []string) {
		fmt.Fprintf(w, "%s: %s{", field, typ)
		for i, v := range vals {
			fmt.Fprintf(w, "%s: %s, ", scripts[i], v)
		}
		fmt.Fprintf(w, "},\n")
	}
	var a, b []string
	for i := range numScripts {
		a = append(a, fmt.Sprint(tb.scriptWord[i]))
		b = append(b, fmt.Sprint(tb.script[i]))
	}
	named("scriptWord", "[numScripts]int16", a)
	named("script", "[numScripts]uint16", b)
	fmt.Fprintf(w, "nonASCIIPrefix: [numPrefixes]int16%s,\n", list(tb.nonASCIIPrefix))
	fmt.Fprintf(w, "number: [4]uint16%s,\nnumberNonASCII: %d,\n", list(tb.number), tb.numberNonASCII)
	fmt.Fprintf(w, "punct: [2][maxPunctLen + 1]uint16{%s, %s},\n", list(tb.punct[0]), list(tb.punct[1]))
	fmt.Fprintf(w, "punctNonASCII: [5]uint16%s,\n", list(tb.punctNonASCII))
	fmt.Fprintf(w, "space: [maxSpaceLen + 1]uint16%s,\n", list(tb.space))
	fmt.Fprintf(w, "newline: [maxSpaceLen + 1]uint16%s,\n", list(tb.newline))
	fmt.Fprintf(w, "contraction: %d,\n}\n\n", tb.contraction)
}

var (
	roffRequest = regexp.MustCompile(`^\.(SH|SS|B|I|BR|IR|RB|RI|TP|IP)\s+(.*)$`)
	roffFont    = regexp.MustCompile(`\\f(\[[^\]]*\]|\(..|.)`)
	roffSize    = regexp.MustCompile(`\\s[-+]?\d`)
	roffEscape  = regexp.MustCompile(`\\\(..|\\\[[^\]]*\]|\\[&|{}^]`)
)

// manPages returns the text of the translated manual pages, roff requests
// and escapes stripped.
func manPages(t *testing.T) []corpusText {
	var out []corpusText
	for _, lang := range []string{"de", "fr", "es", "it", "pt", "pl", "ru", "uk", "ja", "ko", "zh_CN", "zh_TW", "tr", "cs", "nl", "sv", "ro", "hu"} {
		files, _ := filepath.Glob(filepath.Join("/usr/share/man", lang, "man*", "*.gz"))
		sort.Strings(files)
		total := 0
		for _, name := range files {
			if total > 120_000 {
				break
			}
			f, err := os.Open(name)
			if err != nil {
				continue
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				continue
			}
			raw, err := io.ReadAll(zr)
			f.Close()
			if err != nil || !utf8.Valid(raw) {
				continue
			}
			var b strings.Builder
			for _, line := range strings.Split(string(raw), "\n") {
				if strings.HasPrefix(line, ".") || strings.HasPrefix(line, "'") {
					m := roffRequest.FindStringSubmatch(line)
					if m == nil {
						continue
					}
					line = strings.ReplaceAll(m[2], `"`, "")
				}
				line = roffFont.ReplaceAllString(line, "")
				line = roffSize.ReplaceAllString(line, "")
				line = roffEscape.ReplaceAllString(line, "")
				line = strings.NewReplacer(`\-`, "-", `\e`, `\`, `\ `, " ").Replace(line)
				b.WriteString(line)
				b.WriteByte('\n')
			}
			total += b.Len()
			for _, para := range strings.SplitAfter(b.String(), "\n\n") {
				out = append(out, corpusText{"multilingual", name, para})
			}
		}
	}
	if len(out) == 0 {
		t.Log("no translated manual pages under /usr/share/man")
	}
	return out
}
