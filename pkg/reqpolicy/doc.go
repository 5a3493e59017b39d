// Package reqpolicy is GoKeyVault's request policy: how often each kind of
// request is retried (retry.go), how many run at once (bounds.go), how fast
// they go to a vault that pushes back, and the per-request policies every
// vault client installs.
package reqpolicy
