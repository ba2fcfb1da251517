package transaction

// State is a state of one of the four transaction state machines
// (RFC 3261 Figures 5-8, with "Accepted" from RFC 6026).
type State uint8

// States. Each machine uses a subset: INVITE client Calling, Proceeding,
// Completed, Accepted, Terminated; non-INVITE client Trying, Proceeding,
// Completed, Terminated; INVITE server Proceeding, Completed, Confirmed,
// Accepted, Terminated; non-INVITE server Trying, Proceeding, Completed,
// Terminated.
const (
	StateCalling State = iota + 1
	StateTrying
	StateProceeding
	StateCompleted
	StateConfirmed
	StateAccepted
	StateTerminated
)

var stateNames = [...]string{
	StateCalling:    "Calling",
	StateTrying:     "Trying",
	StateProceeding: "Proceeding",
	StateCompleted:  "Completed",
	StateConfirmed:  "Confirmed",
	StateAccepted:   "Accepted",
	StateTerminated: "Terminated",
}

// String returns the state's name as the RFC writes it, e.g. "Proceeding".
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return "?"
}
