package sipfrag_test

import (
	"fmt"

	"github.com/sipxfer/sipxfer/sipfrag"
)

// A transferor reads the progress of a REFER from the sipfrag bodies of
// the NOTIFYs it receives (RFC 3515 §2.4.5).
func ExampleStatus() {
	for _, body := range []string{
		"SIP/2.0 100 Trying\r\n",
		"SIP/2.0 200 OK\n", // some peers end the line with a bare LF
		"SIP/2.0 486 Busy Here",
	} {
		code, reason, err := sipfrag.Status([]byte(body))
		if err != nil {
			fmt.Println("bad sipfrag:", err)
			continue
		}
		fmt.Println(code, string(reason), code >= 200)
	}
	// Output:
	// 100 Trying false
	// 200 OK true
	// 486 Busy Here true
}
