package reqpolicy

import "time"

// Spread releases the gets of each list page over the time the next page
// takes, while the list runs, instead of all at once. A burst of 25 gets
// sent the moment a page lands is answered just when the next page is, and
// the two then compete for the same CPU and connections; spread out, the
// next page finds a quiet client. The gets still run faster than the list
// produces them (spreadFactor), a backlog of more than a page is released
// at once, and after the last page nothing is held back.
//
// The zero Spread holds nothing back until it has seen two pages. It is
// not safe for concurrent use: its queue calls it under its own lock.
type Spread struct {
	lastPage time.Time     // when the latest page arrived
	pageLen  int           // items the latest page brought
	spacing  time.Duration // between releases while the list runs; 0 = none
	next     time.Time     // earliest release of the next item
}

// spreadFactor is the share of the page interval over which a page's gets
// are released: below 1, so that the gets outpace the list and no backlog
// builds up.
const spreadFactor = 0.75

// Page measures the list's pace: a page of n items arrived at now.
func (s *Spread) Page(now time.Time, n int) {
	if !s.lastPage.IsZero() && n > 0 {
		s.spacing = time.Duration(spreadFactor * float64(now.Sub(s.lastPage)) / float64(n))
	}
	s.lastPage = now
	s.pageLen = n
}

// Release reserves the release time of an item taken at now, with backlog
// items still queued behind it, and returns how long to wait for it.
// listDone says the last page is in.
func (s *Spread) Release(now time.Time, backlog int, listDone bool) time.Duration {
	if listDone || s.spacing <= 0 || backlog >= s.pageLen {
		// The list is done, its pace is not known yet, or the gets have
		// fallen a page behind: hold nothing back.
		s.next = now
		return 0
	}
	start := s.next
	if start.Before(now) {
		start = now
	}
	s.next = start.Add(s.spacing)
	return start.Sub(now)
}
