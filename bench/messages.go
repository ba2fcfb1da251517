// Package bench holds the benchmarks of the sip parser and serializer and
// the messages they run on: the four messages of a call transfer that a
// transfer-capable user agent handles most, written for these benchmarks
// with \r\n line ends and RFC 5737 / RFC 2606 addresses.
//
// The message constants are exported so that the comparison module in
// bench/compare runs other parsers on the very same bytes.
package bench

// Invite is a 1 KB initial INVITE from Alice to Bob with an SDP offer of
// audio and video, as a softphone sends it.
const Invite = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK.8f2a61c04d\r\n" +
	"Max-Forwards: 70\r\n" +
	"To: \"Bob\" <sip:bob@biloxi.example.com>\r\n" +
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" +
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:alice@192.0.2.10:5060;transport=udp>;expires=3600\r\n" +
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, SUBSCRIBE, UPDATE, INFO\r\n" +
	"Supported: replaces, norefersub, timer\r\n" +
	"User-Agent: sipxfer-bench/1.0\r\n" +
	"Allow-Events: refer, dialog, talk, hold\r\n" +
	"Accept: application/sdp\r\n" +
	"Subject: quarterly planning\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 356\r\n" +
	"\r\n" +
	inviteSDP

// inviteSDP is Alice's offer: PCMU, PCMA and DTMF events; H.264 video.
const inviteSDP = "v=0\r\n" +
	"o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.0.2.10\r\n" +
	"t=0 0\r\n" +
	"m=audio 49170 RTP/AVP 0 8 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:8 PCMA/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-16\r\n" +
	"a=ptime:20\r\n" +
	"a=sendrecv\r\n" +
	"m=video 51372 RTP/AVP 96\r\n" +
	"a=rtpmap:96 H264/90000\r\n" +
	"a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n" +
	"a=sendrecv\r\n"

// OK200 is Bob's 200 OK to Invite as Alice receives it through two
// record-routing proxies, with the SDP answer.
const OK200 = "SIP/2.0 200 OK\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5060;rport=5060;received=192.0.2.10;branch=z9hG4bK.8f2a61c04d\r\n" +
	"Record-Route: <sip:proxy2.biloxi.example.com;lr>\r\n" +
	"Record-Route: <sip:proxy1.atlanta.example.com;lr>\r\n" +
	"To: \"Bob\" <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n" +
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" +
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n" +
	"CSeq: 314159 INVITE\r\n" +
	"Contact: <sip:bob@192.0.2.20:5060;transport=udp>\r\n" +
	"Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REFER, NOTIFY, SUBSCRIBE, UPDATE, INFO\r\n" +
	"Supported: replaces, norefersub\r\n" +
	"Server: sipxfer-bench/1.0\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 316\r\n" +
	"\r\n" +
	okSDP

// okSDP is Bob's answer: PCMU and DTMF events; H.264 video.
const okSDP = "v=0\r\n" +
	"o=bob 2808844564 2808844564 IN IP4 192.0.2.20\r\n" +
	"s=-\r\n" +
	"c=IN IP4 192.0.2.20\r\n" +
	"t=0 0\r\n" +
	"m=audio 3456 RTP/AVP 0 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-16\r\n" +
	"a=sendrecv\r\n" +
	"m=video 3458 RTP/AVP 96\r\n" +
	"a=rtpmap:96 H264/90000\r\n" +
	"a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n" +
	"a=sendrecv\r\n"

// Refer is Alice's in-dialog REFER asking Bob to call Carol and replace
// Alice's call with her (an attended transfer, RFC 5589 §7): the Refer-To
// URI carries an escaped Replaces header (RFC 3891 §5).
const Refer = "REFER sip:bob@192.0.2.20:5060;transport=udp SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.10:5060;rport;branch=z9hG4bK.3e1d7a9b02\r\n" +
	"Max-Forwards: 70\r\n" +
	"Route: <sip:proxy1.atlanta.example.com;lr>, <sip:proxy2.biloxi.example.com;lr>\r\n" +
	"To: \"Bob\" <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n" +
	"From: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" +
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n" +
	"CSeq: 314161 REFER\r\n" +
	"Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n" +
	"Refer-To: <sip:carol@192.0.2.30?Replaces=7a3f9d0e2c%40192.0.2.30%3Bto-tag%3D5f35a3%3Bfrom-tag%3D8675309>\r\n" +
	"Referred-By: <sip:alice@atlanta.example.com>\r\n" +
	"Event: refer\r\n" +
	"Supported: norefersub, replaces\r\n" +
	"User-Agent: sipxfer-bench/1.0\r\n" +
	"Content-Length: 0\r\n" +
	"\r\n"

// Notify is Bob's first NOTIFY of the subscription Refer created (RFC 3515
// §2.4.4): the sipfrag of a 100 Trying from Carol.
const Notify = "NOTIFY sip:alice@192.0.2.10:5060;transport=udp SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 192.0.2.20:5060;rport;branch=z9hG4bK.c4b1e98f17\r\n" +
	"Max-Forwards: 70\r\n" +
	"Route: <sip:proxy2.biloxi.example.com;lr>, <sip:proxy1.atlanta.example.com;lr>\r\n" +
	"To: \"Alice\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" +
	"From: \"Bob\" <sip:bob@biloxi.example.com>;tag=a6c85cf\r\n" +
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n" +
	"CSeq: 1002 NOTIFY\r\n" +
	"Contact: <sip:bob@192.0.2.20:5060;transport=udp>\r\n" +
	"Event: refer;id=314161\r\n" +
	"Subscription-State: active;expires=60\r\n" +
	"Content-Type: message/sipfrag;version=2.0\r\n" +
	"Content-Length: 20\r\n" +
	"\r\n" +
	"SIP/2.0 100 Trying\r\n"
