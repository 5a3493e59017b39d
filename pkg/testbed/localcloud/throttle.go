package localcloud

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// Key Vault's limit for secret reads, per vault and region: "4,000 per
// 10 seconds". It is a window, not a rate: a client may spend it in one
// burst and then waits for the window to move on.
const (
	KeyVaultWindow      = 10 * time.Second
	KeyVaultWindowLimit = 4000
)

// slidingWindow holds when each of the last limit accepted requests was
// accepted, oldest first, in a ring.
type slidingWindow struct {
	span  time.Duration
	times []time.Time // ring of len limit once full
	head  int         // oldest entry once full
}

func newSlidingWindow(span time.Duration, limit int) *slidingWindow {
	if span <= 0 || limit <= 0 {
		return nil
	}
	return &slidingWindow{span: span, times: make([]time.Time, 0, limit)}
}

// wait is how long until the window has room for one more request at now;
// 0 if it has room.
func (w *slidingWindow) wait(now time.Time) time.Duration {
	if len(w.times) < cap(w.times) {
		return 0
	}
	if free := w.times[w.head].Add(w.span); free.After(now) {
		return free.Sub(now)
	}
	return 0
}

func (w *slidingWindow) accept(now time.Time) {
	if len(w.times) < cap(w.times) {
		w.times = append(w.times, now)
		return
	}
	w.times[w.head] = now
	w.head = (w.head + 1) % len(w.times)
}

// throttle admits the request or answers 429 as Key Vault does. The bucket
// and the window are the vault's, shared by every client; a refused request
// takes nothing from either.
func (v *Vault) throttle(f Faults) (reply, bool) {
	if f.Rate <= 0 && f.window == nil {
		return reply{}, false
	}
	now := time.Now()
	v.mu.Lock()
	defer v.mu.Unlock()
	var wait time.Duration
	if f.Rate > 0 {
		burst := f.Burst
		if burst <= 0 {
			burst = math.Max(1, f.Rate/10)
		}
		if v.bucketAt.IsZero() {
			v.bucket = burst
		} else {
			v.bucket = math.Min(burst, v.bucket+now.Sub(v.bucketAt).Seconds()*f.Rate)
		}
		v.bucketAt = now
		if v.bucket < 1 {
			wait = time.Duration((1 - v.bucket) / f.Rate * float64(time.Second)) // until the next token
		}
	}
	if f.window != nil {
		wait = max(wait, f.window.wait(now))
	}
	if wait <= 0 {
		if f.Rate > 0 {
			v.bucket--
		}
		if f.window != nil {
			f.window.accept(now)
		}
		return reply{}, false
	}
	mode := f.RetryAfter
	if mode == "mixed" {
		mode = []string{"seconds", "ms", "none"}[v.throttles%3]
	}
	v.throttles++
	h := http.Header{}
	switch mode {
	case "ms":
		h.Set("x-ms-retry-after-ms", strconv.FormatInt(int64(math.Max(1, math.Ceil(wait.Seconds()*1000))), 10))
	case "none":
	default:
		h.Set("Retry-After", strconv.FormatInt(int64(math.Max(1, math.Ceil(wait.Seconds()))), 10))
	}
	return reply{status: http.StatusTooManyRequests, header: h, body: kvError("Throttled",
		"Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached", "")}, true
}
