package mock

import (
	"math/rand/v2"
)

// This file decides when the simulated model calls tools, which ones, and
// with what arguments; each wire format declares tools and encodes calls
// its own way.

// toolSpec is a declared function.
type toolSpec struct {
	name string
	// schema is the JSON Schema of the arguments, raw; it is parsed only
	// when the tool is called.
	schema []byte
}

// toolCall is one call the model makes.
type toolCall struct {
	name string
	args []byte // a compact JSON object; shared, never modified
}

// toolMode is a request's tool choice, whatever the format calls it.
type toolMode uint8

const (
	toolAuto     toolMode = iota // the model decides: see wantsTools
	toolNone                     // never call a tool
	toolRequired                 // call at least one (OpenAI "required", Anthropic "any", Gemini ANY)
	toolNamed                    // call the named tool
)

// toolChoice is what a request says about calling tools.
type toolChoice struct {
	mode toolMode
	// name is the tool to call (toolNamed).
	name string
	// allowed restricts the tools called (Gemini's allowedFunctionNames).
	allowed []string
	// single forbids parallel calls (OpenAI parallel_tool_calls: false,
	// Anthropic disable_parallel_tool_use).
	single bool
}

// pickTools returns the indices of the tools the model calls:
//
//   - none when no tools are declared or the choice is "none";
//   - the named tool when the request names one;
//   - when calling is required, or when the choice is left to the model
//     and the last message is the user's and contains "call" (in any
//     case): every declared tool (every allowed one), in order, as
//     parallel calls — or only the first when parallel calls are off.
//
// A tool result as the last message therefore gets a text answer, so that
// an agent loop ends.
func pickTools(tools []toolSpec, choice *toolChoice, userAsksToCall bool) []int {
	if len(tools) == 0 {
		return nil
	}
	switch choice.mode {
	case toolNone:
		return nil
	case toolNamed:
		for i, t := range tools {
			if t.name == choice.name {
				return []int{i}
			}
		}
		return nil
	case toolAuto:
		if !userAsksToCall {
			return nil
		}
	}
	var picks []int
	for i, t := range tools {
		if len(choice.allowed) > 0 && !contains(choice.allowed, t.name) {
			continue
		}
		picks = append(picks, i)
		if choice.single {
			break
		}
	}
	return picks
}

// makeCalls generates the arguments of the picked tools from their
// schemas. The error is a schema that does not parse, with the index of its
// tool.
func makeCalls(tools []toolSpec, picks []int) ([]toolCall, int, error) {
	calls := make([]toolCall, 0, len(picks))
	for _, i := range picks {
		args := emptyArguments
		if len(tools[i].schema) > 0 {
			var err error
			if args, err = generateFromSchema(tools[i].schema); err != nil {
				return nil, i, err
			}
		}
		calls = append(calls, toolCall{name: tools[i].name, args: args})
	}
	return calls, 0, nil
}

// emptyArguments are those of a function without parameters.
var emptyArguments = []byte("{}")

// callTokens is what a call counts as completion tokens: 4 of framing plus
// its name and arguments at 4 bytes a token, rounded up.
func callTokens(c toolCall) int {
	return 4 + (len(c.name)+len(c.args)+3)/4
}

// callIDs makes the ids of one response's tool calls: a random stem shared
// by the response and, per call, a suffix that numbers it, so that the ids
// are unique within the response and cost no allocation each.
type callIDs struct {
	stem [20]byte
}

func newCallIDs() callIDs {
	var ids callIDs
	var x uint64
	for i := range ids.stem {
		if i%10 == 0 {
			x = rand.Uint64()
		}
		ids.stem[i] = idAlphabet[x%uint64(len(idAlphabet))]
		x /= uint64(len(idAlphabet))
	}
	return ids
}

// appendID appends prefix, the stem and n in four base-62 digits: OpenAI's
// "call_" and 24 characters, or Anthropic's "toolu_01" and 24.
func (ids *callIDs) appendID(b []byte, prefix string, n int) []byte {
	b = append(b, prefix...)
	b = append(b, ids.stem[:]...)
	var digits [4]byte
	for i := len(digits) - 1; i >= 0; i-- {
		digits[i] = idAlphabet[n%len(idAlphabet)]
		n /= len(idAlphabet)
	}
	return append(b, digits[:]...)
}
