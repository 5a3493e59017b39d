// Package reqpolicy is GoKeyVault's request policy, for every request the
// task sends: the retries of each kind of request (RunVaultRetry and the
// other Retry functions), how many run at once (RunGetsInFlight,
// CheckGetsInFlight, ConnsPerHost, Workers), how fast gets go to a vault
// (Spread, Limiter), and the per-request policies every vault client
// installs (Install): the attempts counter, the api-version fallback, the
// guard and the reply cap.
//
// # Pacing
//
// A vault's limit is shared with every other client of the vault (other
// jobs, other pipelines, applications), and a job sees only its own
// requests and the vault's answers: what it measures as the rate the vault
// accepted is its share, not the vault's limit, so no fixed rate is right.
// Two mechanisms shape a run's gets, one after the other:
//
//   - Spread, while the list runs, releases each page's gets over three
//     quarters of the time the page took rather than in a burst that would
//     meet the next page. It smooths the task's own work, never slower
//     than the list produces it, and knows nothing of the vault.
//   - Limiter, on every try, adapts to the vault: a bound on gets in
//     flight (slow start from 8, halved by the first 429) and, from the
//     first 429 on, a pace that drops under the rate the vault accepted
//     and climbs back with time (README: "A vault shared with others").
//
// A get that Spread released waits in the Limiter's line, behind the list
// and the retries. Retries are the SDK's: a 429 is retried after the
// vault's Retry-After or a short backoff, since the Limiter's pace, not a
// long wait, protects a throttled vault; the run's budget, not the retry
// count, bounds a throttled download.
package reqpolicy
