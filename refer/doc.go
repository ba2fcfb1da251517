// Package refer transfers calls with the SIP REFER method (RFC 3515, RFC
// 5589): an Agent, one per user agent, sends REFERs as the transferor and
// takes them as the transferee, with the implicit subscription whose
// NOTIFYs report how the transfer goes.
//
// Transferring a call (the transferor):
//
//	agent, _ := refer.New(ua, events, refer.Config{})
//	t, _ := agent.Refer(call.Dialog(), &refer.ReferOptions{ReferTo: "<sip:carol@example.com>"})
//	result, err := t.Wait(ctx) // result.Code: the target's final answer, from the last NOTIFY
//
// Agent.Refer sends the REFER inside a call's dialog; Agent.ReferOutside
// sends it outside any dialog, naming the call with Target-Dialog (RFC
// 4538) if asked. ReferOptions.OnProgress reports each step (accepted,
// each NOTIFY, done). For an attended transfer (RFC 5589 §7) the Refer-To
// comes from the consultation call, AttendedReferTo(consult.Dialog()),
// whose embedded Replaces (RFC 3891) makes the transferee's INVITE take
// that call over; the target's dialog.Config.OnInvite hands such an INVITE
// to Agent.AcceptReplaces.
//
// Being transferred (the transferee): the Agent checks each REFER received
// (exactly one Refer-To, of a scheme, method and embedded headers the
// Config.Policy allows; 400 or 403 otherwise), then gives it to
// Config.OnRefer as an Incoming, which the application accepts
// (Incoming.Accept), refuses (Incoming.Reject) or defers. Once accepted the
// Agent calls the Refer-To target and reports the call's progress in
// NOTIFYs, unless Config.NoAutoCall leaves that to the application.
//
// Defaults worth knowing:
//   - A REFER is accepted with 200, as RFC 7647 §5 requires; Config.AcceptCode
//     202 serves peers that know only RFC 3515.
//   - A REFER outside a dialog that names no dialog of this UA (no
//     Target-Dialog matching one) is refused with 403, since it would let a
//     stranger make this UA place calls (RFC 3515 §5); Config.AcceptOutsideDialog
//     lets such REFERs reach OnRefer.
//   - An INVITE with Replaces takes over a call only if it comes from a party
//     of the replaced dialog, by its From or Referred-By (PartyOfReplaced, RFC
//     3891 §3, §6.1); Config.AuthorizeReplaces sets another rule, and the
//     others get 403.
//   - Refer-Sub: false (RFC 4488) is honoured: no subscription, no NOTIFY.
//
// The lower-level pieces are exported for applications that build their
// own: ParseReferTo and Target (the checked Refer-To, a view into the
// REFER's buffer, valid only as long as that buffer is), AppendReferToReplaces,
// and Replacing and Replace (RFC 3891 §3 for an incoming INVITE).
package refer
