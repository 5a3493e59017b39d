package reqpolicy

// How many requests to a vault run at once.
const (
	// RunGetsInFlight bounds a run's concurrent gets; the limiter lowers
	// it under throttling. 32 keeps up with list pages at any latency: a
	// page names 25 secrets and takes as long to arrive as one get.
	RunGetsInFlight = 32
	// CheckGetsInFlight is half a run's: a developer's sign-in is usually
	// a person's, whose reads count against the same vault limit as the
	// pipelines'.
	CheckGetsInFlight = 16
)

// ConnsPerHost is the connections to the vault for getsInFlight gets: room
// beside them for the list call, which is the critical path and must never
// wait for a free connection.
func ConnsPerHost(getsInFlight int) int { return getsInFlight + 4 }

// Workers is how many gets may be under way, counting those waiting out a
// retry delay: more than the limiter lets through, so that a request
// backing off after a 429 does not hold up the ones behind it.
func Workers(getsInFlight int) int { return 4 * getsInFlight }
