package bench

import (
	"testing"

	"github.com/sipxfer/sipxfer/sip"
)

// Sinks keep the compiler from dropping the work of a benchmark loop.
var (
	sinkErr  error
	sinkKey  txKey
	sinkAcc  access
	sinkRef  referInfo
	sinkBuf  []byte
	sinkCode int
)

// BenchmarkParse parses each message into a reused Message.
func BenchmarkParse(b *testing.B) {
	for _, msg := range messages {
		b.Run(msg.name, func(b *testing.B) {
			buf := []byte(msg.text)
			var m sip.Message
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkErr = sip.Parse(&m, buf)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

// BenchmarkTransactionKey parses each message and reads what a transaction
// layer matches on: top Via branch and sent-by, CSeq, Call-ID and tags.
func BenchmarkTransactionKey(b *testing.B) {
	for _, msg := range messages {
		b.Run(msg.name, func(b *testing.B) {
			buf := []byte(msg.text)
			var m sip.Message
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkKey, sinkErr = readTxKey(&m, buf)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

// BenchmarkReceive does, for each message, the work the transport and
// transaction layers do on receipt: parse, Validate, transaction key.
func BenchmarkReceive(b *testing.B) {
	for _, msg := range messages {
		b.Run(msg.name, func(b *testing.B) {
			buf := []byte(msg.text)
			var m sip.Message
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkKey, sinkErr = receive(&m, buf)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

// BenchmarkParseAccess parses each message and reads what a user agent
// reads from it: top Via, From and To tags, Call-ID, CSeq, the first
// Contact, Refer-To, Event and Subscription-State where present.
func BenchmarkParseAccess(b *testing.B) {
	for _, msg := range messages {
		b.Run(msg.name, func(b *testing.B) {
			buf := []byte(msg.text)
			var m sip.Message
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkAcc, sinkErr = parseAccess(&m, buf)
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

// BenchmarkTypedREFER reads the typed header fields of a parsed REFER:
// Refer-To with its Replaces header unescaped, Referred-By and Event.
func BenchmarkTypedREFER(b *testing.B) {
	var m sip.Message
	if err := sip.Parse(&m, []byte(Refer)); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(Refer)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkRef, sinkErr = readRefer(&m, buf)
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
}

// BenchmarkSipfragStatus reads the status line of the NOTIFY's sipfrag.
func BenchmarkSipfragStatus(b *testing.B) {
	body := notifyBody()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkCode, sinkErr = fragStatus(body)
	}
	if sinkErr != nil {
		b.Fatal(sinkErr)
	}
}

// BenchmarkValidate validates each parsed message.
func BenchmarkValidate(b *testing.B) {
	for _, msg := range messages {
		b.Run(msg.name, func(b *testing.B) {
			var m sip.Message
			if err := sip.Parse(&m, []byte(msg.text)); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg.text)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				sinkErr = m.Validate()
			}
			if sinkErr != nil {
				b.Fatal(sinkErr)
			}
		})
	}
}

// BenchmarkAppendResponse writes a 200 to the INVITE into a reused buffer.
func BenchmarkAppendResponse(b *testing.B) {
	var m sip.Message
	if err := sip.Parse(&m, []byte(Invite)); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(appendOK(nil, &m))))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = appendOK(buf[:0], &m)
	}
	sinkBuf = buf
}

// BenchmarkAppendTo writes each parsed message back into a reused buffer.
func BenchmarkAppendTo(b *testing.B) {
	for _, msg := range messages {
		b.Run(msg.name, func(b *testing.B) {
			var m sip.Message
			if err := sip.Parse(&m, []byte(msg.text)); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 2048)
			b.SetBytes(int64(len(msg.text)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				buf = m.AppendTo(buf[:0])
			}
			sinkBuf = buf
		})
	}
}

// BenchmarkBuildREFER builds the REFER with the builder functions into a
// reused buffer.
func BenchmarkBuildREFER(b *testing.B) {
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(Refer)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = appendRefer(buf[:0])
	}
	sinkBuf = buf
}
