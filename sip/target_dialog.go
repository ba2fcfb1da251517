package sip

// TargetDialog is a Target-Dialog header value (RFC 4538 §7):
// callid *( SEMI td-param ), naming a dialog the sender of a request knows
// of, so that the recipient can authorize the request and find the call
// it concerns (RFC 7647 §4 uses it for a REFER sent outside the dialog).
// Every []byte is a view into the parsed value.
//
// The tags are seen from the recipient of the request: LocalTag is the
// recipient's own tag in that dialog and RemoteTag its peer's. A sender
// naming its own dialog with the recipient therefore swaps them: in RFC
// 5589 §6.1 the transferee's INVITE has From tag 7553452 and the
// transferor answers with To tag 31kdl4i3k; the transferor's REFER to the
// transferee then carries
// "Target-Dialog: 090459243588173445;local-tag=7553452;remote-tag=31kdl4i3k".
type TargetDialog struct {
	CallID    []byte // compared byte for byte (RFC 3261 §20.8)
	LocalTag  []byte // the recipient's tag
	RemoteTag []byte // the recipient's peer's tag
	Params    Params // every parameter after the Call-ID, tags included
}

// Parse parses a Target-Dialog value. The local-tag and remote-tag
// parameters are required, once each, with token values.
func (d *TargetDialog) Parse(b []byte) error {
	*d = TargetDialog{}
	callID, params, err := splitCallID(b)
	if err != nil {
		return err
	}
	d.CallID = callID
	bad := "bad parameter"
	// remote-param = "remote-tag" EQUAL token, local-param = "local-tag"
	// EQUAL token; eachHeaderParam refuses any parameter named twice.
	ok := eachHeaderParam(params, func(name, value []byte) bool {
		switch {
		case equalFold(name, "local-tag"):
			d.LocalTag = value
			if !isTokenString(value) {
				bad = "bad local-tag"
				return false
			}
		case equalFold(name, "remote-tag"):
			d.RemoteTag = value
			if !isTokenString(value) {
				bad = "bad remote-tag"
				return false
			}
		}
		return true
	})
	switch {
	case params != nil && !ok:
		return newError(ErrBadHeader, len(callID), bad)
	case d.LocalTag == nil:
		return newError(ErrBadHeader, len(callID), "missing local-tag")
	case d.RemoteTag == nil:
		return newError(ErrBadHeader, len(callID), "missing remote-tag")
	}
	d.Params = params
	return nil
}

// Match reports whether d names the dialog with the given Call-ID and
// tags as the recipient of the request holds them (its local tag, then
// its remote tag), comparing byte for byte.
func (d *TargetDialog) Match(callID, localTag, remoteTag []byte) bool {
	return string(d.CallID) == string(callID) &&
		string(d.LocalTag) == string(localTag) && string(d.RemoteTag) == string(remoteTag)
}

// TargetDialog parses the Target-Dialog header field. Its value is no
// comma-separated list, so RFC 3261 §7.3.1 allows one field only.
func (m *Message) TargetDialog() (TargetDialog, error) {
	var d TargetDialog
	v := m.Get(HeaderTargetDialog)
	if !m.Has(HeaderTargetDialog) {
		return d, m.missing(HeaderTargetDialog)
	}
	if m.fieldCount(HeaderTargetDialog) > 1 {
		return d, newError(ErrBadHeader, -1, "more than one Target-Dialog")
	}
	if err := d.Parse(v); err != nil {
		return d, m.fieldError(HeaderTargetDialog, v, err)
	}
	return d, nil
}

// AppendTargetDialog appends a Target-Dialog header value,
// "callid;local-tag=localTag;remote-tag=remoteTag". The tags are the
// recipient's view (see TargetDialog): localTag is the recipient's tag,
// which for a dialog between sender and recipient is the sender's remote
// tag. As with the other builders, CR and LF are written as spaces.
func AppendTargetDialog[T Text](dst []byte, callID, localTag, remoteTag T) []byte {
	dst = appendSafe(dst, callID)
	dst = append(dst, ";local-tag="...)
	dst = appendSafe(dst, localTag)
	dst = append(dst, ";remote-tag="...)
	return appendSafe(dst, remoteTag)
}
