package relational

import "slices"

// ReferencedFirst orders tables so that each comes after the tables it
// refers to (refers: table -> the tables its foreign keys name), and
// otherwise by name: an order that copies them without breaking a foreign
// key. A cycle's tables come last, by name.
func ReferencedFirst(names []string, refers map[string][]string) []string {
	var out []string
	placed := map[string]bool{}
	for len(out) < len(names) {
		progress := false
		for _, t := range names {
			if placed[t] {
				continue
			}
			ready := true
			for _, r := range refers[t] {
				if r != t && !placed[r] && slices.Contains(names, r) {
					ready = false
				}
			}
			if ready {
				out = append(out, t)
				placed[t] = true
				progress = true
				break // the first ready one by name, then look again from the start
			}
		}
		if !progress { // a cycle: the rest by name
			for _, t := range names {
				if !placed[t] {
					out = append(out, t)
					placed[t] = true
				}
			}
		}
	}
	return out
}
