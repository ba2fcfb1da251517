// Package event implements SIP-specific event notification (RFC 6665,
// which obsoletes RFC 3265): SUBSCRIBE and NOTIFY, for the subscriber and
// the notifier, on top of package dialog. It is the framework; event
// packages (refer, presence, dialog ...) register with it.
//
// A Manager serves one dialog.UA: it handles every SUBSCRIBE and NOTIFY the
// UA receives, answers 489 (with Allow-Events) for packages it does not
// know, 481 for NOTIFYs matching no subscription, and keeps the
// subscriptions of both roles. Each subscription is a usage of its dialog
// (RFC 5057): one dialog can carry an INVITE usage (dialog.Call) and
// several subscriptions, told apart by the Event id parameter (RFC 6665
// §4.5.2); ending one ends nothing else, and the dialog ends with its last
// usage.
//
// Subscriber side: Manager.Subscribe sends a SUBSCRIBE outside a dialog;
// the 2xx or the first NOTIFY, whichever comes first, creates the dialog,
// and NOTIFYs from other forks create further subscriptions, offered to
// SubscribeOptions.OnFork until Timer N (64*T1) ends the forking (RFC 6665
// §4.1.2.4). SubscribeDialog subscribes inside an existing dialog. The
// subscription refreshes itself before expiry, reports each NOTIFY and its
// end through callbacks, and Termination carries the re-subscription
// decision of §4.1.3.
//
// Notifier side: Package.OnSubscribe decides each SUBSCRIBE; an accepted
// one gets 200 (never 202, §8.3.1) and an immediate NOTIFY; Notifier.Notify
// and Notifier.Terminate report state. NOTIFYs of one subscription are sent
// one at a time, in order, queued up to a bound, optionally throttled.
//
// Implicit subscriptions (REFER, RFC 3515 §2.4.4). The REFER recipient
// calls NewNotifier on the REFER's dialog (Request.CreateDialog for a REFER
// outside a dialog) with ID set to the REFER's CSeq number, answers the
// REFER, then notifies:
//
//	n, err := events.NewNotifier(d, &event.NotifierOptions{Package: "refer", ID: strconv.Itoa(int(seq))})
//	r.Respond(200, "", nil)
//	n.Notify(event.StateActive, "message/sipfrag", []byte("SIP/2.0 100 Trying\r\n"))
//	...
//	n.Terminate(event.ReasonNoResource, 0, "message/sipfrag", []byte("SIP/2.0 200 OK\r\n"))
//
// The REFER sender calls Expect (in a dialog) or ExpectInitial (outside
// one) before sending the REFER, and hands the Subscription the REFER's
// responses; a NOTIFY that arrives before the REFER's 2xx creates the
// dialog:
//
//	req, dst, _ := d.NewRequest("REFER", opts)
//	seq, _ := d.LocalSeq()
//	s, err := events.Expect(d, &event.SubscribeOptions{Package: "refer", ID: strconv.Itoa(int(seq)), OnNotify: progress})
//	d.Request(req, dst, s)
//
// Concurrency. A Manager, Subscription and Notifier are safe for concurrent
// use. Callbacks run on the goroutine that delivered the message or fired
// the timer, with no lock held; they must not block, and may call back into
// the package. The package starts no goroutine; every timer runs on the
// UA's clock and is stopped when its subscription ends or the Manager
// closes.
package event
