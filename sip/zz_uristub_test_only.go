//go:build uristub

package sip

import "bytes"

type Scheme uint8

const (
	SchemeOther Scheme = iota
	SchemeSIP
	SchemeSIPS
	SchemeTel
)

type Params []byte

func (p Params) Get(name string) ([]byte, bool) {
	for q := p; len(q) > 0; {
		var n, v []byte
		n, v, q = q.Next()
		if equalFold(n, name) {
			return v, true
		}
	}
	return nil, false
}
func (p Params) Has(name string) bool { _, ok := p.Get(name); return ok }
func (p Params) Next() (name, value []byte, rest Params) {
	i := bytes.IndexByte(p, ';')
	cur := p
	if i >= 0 {
		cur, rest = p[:i], p[i+1:]
	}
	if j := bytes.IndexByte(cur, '='); j >= 0 {
		return trimWS(cur[:j]), trimWS(cur[j+1:]), rest
	}
	return trimWS(cur), nil, rest
}
func validHeaderParams(p []byte) bool { return true }

type URI struct {
	Scheme                          Scheme
	SchemeRaw, User, Password, Host []byte
	Port                            int
	Params                          Params
	Headers, Opaque, Raw            []byte
}

func (u *URI) Parse(b []byte) error {
	*u = URI{Raw: b, Scheme: SchemeSIP}
	if len(b) == 0 || bytes.ContainsAny(b, " <>") {
		return newError(ErrBadURI, 0, "bad")
	}
	if i := bytes.IndexByte(b, '?'); i >= 0 {
		u.Headers = b[i+1:]
	}
	if i := bytes.IndexByte(b, '@'); i >= 0 {
		u.Host = b[i+1:]
	}
	return nil
}
func (u *URI) AppendTo(dst []byte) []byte { return append(dst, u.Raw...) }

func validHost(b []byte) bool { return len(b) > 0 }
