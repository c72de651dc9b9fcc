package redact

// findCards finds payment card numbers: 13 to 19 digits, optionally in
// groups split by single spaces or dashes, standing alone (no letter,
// digit or underscore on either side), with a card network's prefix and
// length and a valid Luhn check digit, so that timestamps, phone numbers
// and ids are left alone. In a longer run of groups, the leftmost longest
// sub-run of whole groups that is a card number is taken.
func findCards(t *text, dst []span) []span {
	s := t.s
	var groups [24][2]int
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i = nextDigit(s, i+1)
			continue
		}
		if wordBefore(s, i) {
			i = run(s, i, alnumUnder)
			continue
		}
		// Collect the groups of the run.
		n, j, digits := 0, i, 0
		for {
			g := j
			for g < len(s) && isDigit(s[g]) {
				g++
			}
			if n < len(groups) {
				groups[n] = [2]int{j, g}
				n++
			}
			digits += g - j
			if g+1 < len(s) && (s[g] == ' ' || s[g] == '-') && isDigit(s[g+1]) && n < len(groups) {
				j = g + 1
				continue
			}
			j = g
			break
		}
		// The last group must end the number: no letter or digit after it.
		last := n - 1
		if j < len(s) && alnumUnder[s[j]] {
			last--
		}
		if digits >= 13 {
			dst = cardsInGroups(s, groups[:n], last, dst)
		}
		i = run(s, j, alnumUnder)
	}
	return dst
}

// cardsInGroups tries sub-runs of groups[a..b] (b <= last) as card numbers.
func cardsInGroups(s string, groups [][2]int, last int, dst []span) []span {
	for a := 0; a <= last; a++ {
		for b := last; b >= a; b-- {
			var num [19]byte
			n, fits := 0, true
			for g := a; g <= b && fits; g++ {
				for k := groups[g][0]; k < groups[g][1]; k++ {
					if n == len(num) {
						fits = false
						break
					}
					num[n] = s[k]
					n++
				}
			}
			if !fits || n < 13 {
				continue
			}
			if isCardNumber(num[:n]) {
				dst = append(dst, span{start: groups[a][0], end: groups[b][1]})
				a = b
				break
			}
		}
	}
	return dst
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// nextDigit returns the index of the first ASCII digit at or after i, or
// len(s), eight bytes at a time: prose has few digits.
func nextDigit(s string, i int) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// A byte is a digit when it is below 0x80, at least '0' and at
		// most '9' (the classic "has byte between" test).
		low := x &^ highs
		between := (ones*(127+'9'+1) - low) & ^x & (low + ones*(127-('0'-1))) & highs
		if between != 0 {
			break
		}
	}
	for i < len(s) && !isDigit(s[i]) {
		i++
	}
	return i
}

// isCardNumber checks a network's prefix and length, then Luhn.
func isCardNumber(d []byte) bool {
	n := len(d)
	prefix := func(k int) int {
		v := 0
		for i := 0; i < k; i++ {
			v = v*10 + int(d[i]-'0')
		}
		return v
	}
	ok := false
	switch d[0] {
	case '4': // Visa
		ok = n == 13 || n == 16 || n == 19
	case '5': // Mastercard 51-55; Maestro 50, 56-59
		if p := prefix(2); p >= 51 && p <= 55 {
			ok = n == 16
		} else {
			ok = n >= 13
		}
	case '2': // Mastercard 2221-2720
		p := prefix(4)
		ok = p >= 2221 && p <= 2720 && n == 16
	case '3':
		switch p2, p3, p4 := prefix(2), prefix(3), prefix(4); {
		case p2 == 34 || p2 == 37: // American Express
			ok = n == 15
		case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39: // Diners Club
			ok = n >= 14
		case p4 >= 3528 && p4 <= 3589: // JCB
			ok = n >= 16
		}
	case '6': // Discover, UnionPay, Maestro
		ok = n >= 16
	}
	return ok && luhn(d)
}

func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}
