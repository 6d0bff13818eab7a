package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Exceptions is the exceptions: block: the approval rule and the templates
// (named lists of control, state and reason, applied to tenants at once).
type Exceptions struct {
	// Approval: an Ignored (risk accepted) exception waits for a second
	// admin's approval; the requester cannot approve it.
	Approval  bool
	Templates []ExceptionTemplate
	Line      int
}

// ExceptionTemplate is a named list of exceptions, e.g. "Mimecast".
type ExceptionTemplate struct {
	Name  string
	Items []ExceptionItem
	Line  int
}

// ExceptionItem is one control of a template.
type ExceptionItem struct {
	Control, State, Reason string
	Line                   int
}

var (
	exceptionsKeys   = []string{"approval", "templates"}
	templateKeys     = []string{"name", "items"}
	templateItemKeys = []string{"control", "state", "reason"}
	exceptionStates  = []string{"ThirdParty", "Ignored", "Reviewed", "Default"}
)

// exceptions reads the exceptions: block; nil when absent.
func (p *parser) exceptions(e entry) *Exceptions {
	if e.missing() {
		return nil
	}
	if e.val.Kind != yaml.MappingNode {
		p.fail(e.key.Line, "exceptions must be a block of keys", "write exceptions: with approval: and templates: indented below it")
		return nil
	}
	m := p.mapping(e.val, "exceptions", exceptionsKeys)
	x := &Exceptions{Line: e.key.Line}
	if v, ok := p.boolean(m["approval"], "approval: true (a risk accepted needs a second admin's approval) or approval: false"); ok {
		x.Approval = v
	}
	t := m["templates"]
	if t.missing() {
		return x
	}
	if t.val.Kind != yaml.SequenceNode {
		p.fail(t.key.Line, "templates must be a list", "write - name: Mimecast, then items: with - {control: ..., state: ThirdParty, reason: ...}")
		return x
	}
	names := map[string]int{}
	for _, n := range t.val.Content {
		n = resolve(n)
		if n.Kind != yaml.MappingNode {
			p.fail(n.Line, "a template must be a mapping with name: and items:", "write - name: Mimecast and items: below it")
			continue
		}
		tm := p.mapping(n, "exception template", templateKeys)
		tp := ExceptionTemplate{Line: n.Line}
		if v, ok := p.scalar(tm["name"], "a name", "name: Mimecast"); ok && strings.TrimSpace(v) != "" {
			tp.Name = strings.TrimSpace(v)
			key := strings.ToLower(tp.Name)
			if prev, dup := names[key]; dup {
				p.fail(tm["name"].key.Line, fmt.Sprintf("template %q is defined twice, on lines %d and %d", tp.Name, prev, tm["name"].key.Line), "give each template its own name")
			}
			names[key] = tm["name"].key.Line
		} else {
			p.fail(n.Line, "the template has no name", "add name: Mimecast")
		}
		items := tm["items"]
		if items.missing() || items.val.Kind != yaml.SequenceNode || len(items.val.Content) == 0 {
			p.fail(n.Line, fmt.Sprintf("template %s has no items", tp.Name), "add items: with - {control: mdo_safelinksforemail, state: ThirdParty, reason: covered by Mimecast}")
			continue
		}
		for _, in := range items.val.Content {
			in = resolve(in)
			if in.Kind != yaml.MappingNode {
				p.fail(in.Line, "a template item must be a mapping", "write - {control: mdo_safelinksforemail, state: ThirdParty, reason: covered by Mimecast}")
				continue
			}
			im := p.mapping(in, "exception template item", templateItemKeys)
			it := ExceptionItem{Line: in.Line}
			it.Control, _ = p.scalar(im["control"], "a control id", "control: mdo_safelinksforemail")
			it.Reason, _ = p.scalar(im["reason"], "a reason", "reason: covered by Mimecast")
			state, _ := p.scalar(im["state"], "a state", "state: ThirdParty")
			switch {
			case strings.TrimSpace(it.Control) == "":
				p.fail(in.Line, "the template item has no control", "add control: with the control profile's id, e.g. mdo_safelinksforemail")
			case strings.TrimSpace(it.Reason) == "":
				p.fail(in.Line, fmt.Sprintf("the template item for %s has no reason", it.Control), "add reason: saying why, for the auditor")
			}
			for _, s := range exceptionStates {
				if strings.EqualFold(s, strings.TrimSpace(state)) {
					it.State = s
				}
			}
			if it.State == "" {
				p.fail(in.Line, fmt.Sprintf("state %q is not one of %s", state, strings.Join(exceptionStates, ", ")),
					"write state: ThirdParty (covered by another tool), Ignored (risk accepted), Reviewed, or Default to clear")
			}
			tp.Items = append(tp.Items, it)
		}
		x.Templates = append(x.Templates, tp)
	}
	return x
}
