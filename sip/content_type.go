package sip

// ContentType is a media type (RFC 3261 §20.15):
// m-type SLASH m-subtype *( SEMI m-parameter ).
type ContentType struct {
	Type    []byte
	Subtype []byte
	Params  Params
}

// Is reports whether the media type is typ/subtype, case-insensitively.
func (c *ContentType) Is(typ, subtype string) bool {
	return equalFold(c.Type, typ) && equalFold(c.Subtype, subtype)
}

// Parse parses a media type.
func (c *ContentType) Parse(b []byte) error {
	*c = ContentType{}
	b = trimWS(b)
	i := skipClass(b, 0, cToken)
	typ, rest := b[:i], trimWS(b[i:])
	if len(typ) == 0 || len(rest) == 0 || rest[0] != '/' {
		return newError(ErrBadHeader, 0, "bad media type")
	}
	rest = trimWS(rest[1:])
	i = skipClass(rest, 0, cToken)
	sub, params := rest[:i], trimWS(rest[i:])
	if len(sub) == 0 {
		return newError(ErrBadHeader, 0, "bad media subtype")
	}
	if len(params) > 0 {
		if params[0] != ';' || !checkHeaderParams(trimWS(params[1:])) {
			return newError(ErrBadHeader, 0, "bad media type parameter")
		}
		c.Params = trimWS(params[1:])
	}
	c.Type, c.Subtype = typ, sub
	return nil
}

// ContentType parses the Content-Type header field.
func (m *Message) ContentType() (ContentType, error) {
	var c ContentType
	v := m.Get(HeaderContentType)
	if !m.Has(HeaderContentType) {
		return c, m.missing(HeaderContentType)
	}
	if err := c.Parse(v); err != nil {
		return c, m.fieldError(HeaderContentType, v, err)
	}
	return c, nil
}
