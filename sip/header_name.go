package sip

// HeaderName identifies a header field. Known names are small integers so
// that the parser, matching and typed accessors never compare strings on
// the hot path; any other name is HeaderOther and kept verbatim.
type HeaderName uint8

// Known header fields: RFC 3261 §20 and the extensions this stack implements
// (RFC 3265/6665 events, RFC 3515 REFER, 3892, 3891, 4488, 4538), and every
// other field with a compact form in the IANA registry (RFC 3841, 4028,
// 4474, 8224), so that a field sent in compact form is found by its long
// name (RFC 3261 §7.3.3).
const (
	HeaderOther HeaderName = iota
	HeaderAccept
	HeaderAcceptContact
	HeaderAcceptEncoding
	HeaderAcceptLanguage
	HeaderAlertInfo
	HeaderAllow
	HeaderAllowEvents
	HeaderAuthenticationInfo
	HeaderAuthorization
	HeaderCallID
	HeaderCallInfo
	HeaderContact
	HeaderContentDisposition
	HeaderContentEncoding
	HeaderContentLanguage
	HeaderContentLength
	HeaderContentType
	HeaderCSeq
	HeaderDate
	HeaderErrorInfo
	HeaderEvent
	HeaderExpires
	HeaderFrom
	HeaderIdentity
	HeaderIdentityInfo
	HeaderInReplyTo
	HeaderMaxForwards
	HeaderMIMEVersion
	HeaderMinExpires
	HeaderOrganization
	HeaderPriority
	HeaderProxyAuthenticate
	HeaderProxyAuthorization
	HeaderProxyRequire
	HeaderRAck
	HeaderReason
	HeaderRecordRoute
	HeaderReferSub
	HeaderReferTo
	HeaderReferredBy
	HeaderRejectContact
	HeaderReplaces
	HeaderReplyTo
	HeaderRequestDisposition
	HeaderRequire
	HeaderRetryAfter
	HeaderRoute
	HeaderRSeq
	HeaderServer
	HeaderSessionExpires
	HeaderSubject
	HeaderSubscriptionState
	HeaderSupported
	HeaderTargetDialog
	HeaderTimestamp
	HeaderTo
	HeaderUnsupported
	HeaderUserAgent
	HeaderVia
	HeaderWarning
	HeaderWWWAuthenticate
	numHeaders
)

// headerInfo is what the stack knows about a header name.
type headerInfo struct {
	name    string // canonical spelling
	compact byte   // compact form (RFC 3261 §7.3.3 and extensions), 0 if none
	list    bool   // value is a comma-separated list (RFC 3261 §7.3.1)
}

var headerInfos = [numHeaders]headerInfo{
	HeaderOther:              {},
	HeaderAccept:             {"Accept", 0, true},
	HeaderAcceptContact:      {"Accept-Contact", 'a', true}, // RFC 3841 §9.2
	HeaderAcceptEncoding:     {"Accept-Encoding", 0, true},
	HeaderAcceptLanguage:     {"Accept-Language", 0, true},
	HeaderAlertInfo:          {"Alert-Info", 0, true},
	HeaderAllow:              {"Allow", 0, true},
	HeaderAllowEvents:        {"Allow-Events", 'u', true}, // RFC 6665 §8.2.2
	HeaderAuthenticationInfo: {"Authentication-Info", 0, false},
	HeaderAuthorization:      {"Authorization", 0, false},
	HeaderCallID:             {"Call-ID", 'i', false},
	HeaderCallInfo:           {"Call-Info", 0, true},
	HeaderContact:            {"Contact", 'm', true},
	HeaderContentDisposition: {"Content-Disposition", 0, false},
	HeaderContentEncoding:    {"Content-Encoding", 'e', true},
	HeaderContentLanguage:    {"Content-Language", 0, true},
	HeaderContentLength:      {"Content-Length", 'l', false},
	HeaderContentType:        {"Content-Type", 'c', false},
	HeaderCSeq:               {"CSeq", 0, false},
	HeaderDate:               {"Date", 0, false},
	HeaderErrorInfo:          {"Error-Info", 0, true},
	HeaderEvent:              {"Event", 'o', false}, // RFC 6665 §8.2.1
	HeaderExpires:            {"Expires", 0, false},
	HeaderFrom:               {"From", 'f', false},
	HeaderIdentity:           {"Identity", 'y', false},      // RFC 8224 §4
	HeaderIdentityInfo:       {"Identity-Info", 'n', false}, // RFC 4474 §9 (obsoleted by RFC 8224)
	HeaderInReplyTo:          {"In-Reply-To", 0, true},
	HeaderMaxForwards:        {"Max-Forwards", 0, false},
	HeaderMIMEVersion:        {"MIME-Version", 0, false},
	HeaderMinExpires:         {"Min-Expires", 0, false},
	HeaderOrganization:       {"Organization", 0, false},
	HeaderPriority:           {"Priority", 0, false},
	HeaderProxyAuthenticate:  {"Proxy-Authenticate", 0, false},
	HeaderProxyAuthorization: {"Proxy-Authorization", 0, false},
	HeaderProxyRequire:       {"Proxy-Require", 0, true},
	HeaderRAck:               {"RAck", 0, false},
	HeaderReason:             {"Reason", 0, true},
	HeaderRecordRoute:        {"Record-Route", 0, true},
	HeaderReferSub:           {"Refer-Sub", 0, false},       // RFC 4488
	HeaderReferTo:            {"Refer-To", 'r', false},      // RFC 3515 §2.1
	HeaderReferredBy:         {"Referred-By", 'b', false},   // RFC 3892
	HeaderRejectContact:      {"Reject-Contact", 'j', true}, // RFC 3841 §9.2
	HeaderReplaces:           {"Replaces", 0, false},        // RFC 3891
	HeaderReplyTo:            {"Reply-To", 0, false},
	HeaderRequestDisposition: {"Request-Disposition", 'd', true}, // RFC 3841 §9.1
	HeaderRequire:            {"Require", 0, true},
	HeaderRetryAfter:         {"Retry-After", 0, false},
	HeaderRoute:              {"Route", 0, true},
	HeaderRSeq:               {"RSeq", 0, false},
	HeaderServer:             {"Server", 0, false},
	HeaderSessionExpires:     {"Session-Expires", 'x', false}, // RFC 4028 §4
	HeaderSubject:            {"Subject", 's', false},
	HeaderSubscriptionState:  {"Subscription-State", 0, false},
	HeaderSupported:          {"Supported", 'k', true},
	HeaderTargetDialog:       {"Target-Dialog", 0, false}, // RFC 4538
	HeaderTimestamp:          {"Timestamp", 0, false},
	HeaderTo:                 {"To", 't', false},
	HeaderUnsupported:        {"Unsupported", 0, true},
	HeaderUserAgent:          {"User-Agent", 0, false},
	HeaderVia:                {"Via", 'v', true},
	HeaderWarning:            {"Warning", 0, true},
	HeaderWWWAuthenticate:    {"WWW-Authenticate", 0, false},
}

// String returns the canonical spelling of h ("Call-ID"), or "" for HeaderOther.
func (h HeaderName) String() string {
	if h >= numHeaders {
		return ""
	}
	return headerInfos[h].name
}

// IsList reports whether h's value is a comma-separated list whose elements
// may be split across header fields (RFC 3261 §7.3.1).
func (h HeaderName) IsList() bool { return h < numHeaders && headerInfos[h].list }

// Compact returns h's compact form, or 0 if it has none.
func (h HeaderName) Compact() byte {
	if h >= numHeaders {
		return 0
	}
	return headerInfos[h].compact
}

// nameTableSize is a power of two comfortably above twice the number of
// spellings (long and compact), so that open addressing stays short.
const nameTableSize = 256

// nameTable maps a hash of a header name to the known names with that hash;
// lookup then confirms with one case-insensitive compare. Built once at init.
var nameTable = func() (t [nameTableSize]HeaderName) {
	add := func(s string, h HeaderName) {
		i := nameHash([]byte(s))
		for t[i] != HeaderOther {
			i = (i + 1) & (nameTableSize - 1)
		}
		t[i] = h
	}
	// The fields most messages carry go in first, so that they take their
	// home slots and the parser rarely probes past them.
	hot := [...]HeaderName{HeaderVia, HeaderFrom, HeaderTo, HeaderCallID, HeaderCSeq,
		HeaderContact, HeaderMaxForwards, HeaderContentLength, HeaderContentType,
		HeaderRoute, HeaderRecordRoute, HeaderSupported, HeaderAllow, HeaderUserAgent,
		HeaderEvent, HeaderExpires, HeaderAccept}
	seen := [numHeaders]bool{}
	for _, h := range hot {
		seen[h] = true
	}
	addBoth := func(h HeaderName) {
		add(headerInfos[h].name, h)
		if c := headerInfos[h].compact; c != 0 {
			add(string(c), h)
		}
	}
	for _, h := range hot {
		addBoth(h)
	}
	for h := HeaderName(1); h < numHeaders; h++ {
		if !seen[h] {
			addBoth(h)
		}
	}
	return t
}()

// nameHash mixes the length and the case-folded first, second and last bytes.
func nameHash(b []byte) uint32 {
	n := len(b)
	h := uint32(n)*31 + uint32(b[0]|0x20)*7
	if n > 1 {
		h += uint32(b[1]|0x20)*3 + uint32(b[n-1]|0x20)
	}
	return h & (nameTableSize - 1)
}

// LookupHeader returns the HeaderName for a field name in any case, long or
// compact form, or HeaderOther if the name is not one the stack knows.
func LookupHeader(name []byte) HeaderName {
	if len(name) == 0 {
		return HeaderOther
	}
	for i := nameHash(name); ; i = (i + 1) & (nameTableSize - 1) {
		h := nameTable[i]
		if h == HeaderOther {
			return HeaderOther
		}
		info := &headerInfos[h]
		if len(name) == 1 {
			if info.compact == name[0]|0x20 {
				return h
			}
			continue
		}
		// Most names come in their canonical spelling: one memory compare
		// settles those before the byte-by-byte case folding.
		if string(name) == info.name || equalFold(name, info.name) {
			return h
		}
	}
}
