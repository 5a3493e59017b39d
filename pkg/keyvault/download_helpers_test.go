package keyvault

import (
	"context"

	"github.com/gokeyvault/gokeyvault/pkg/vaultref"
)

// The task always calls Download with its own Request; these two are the
// requests the tests here make most.

// All downloads every enabled, currently valid secret of the vault.
func (c *Client) All(ctx context.Context, sink func(Value)) (Report, error) {
	return c.Download(ctx, Request{Select: func(string, map[string]string) bool { return true }}, sink)
}

// Named downloads the given secrets by name, without listing.
func (c *Client) Named(ctx context.Context, want []vaultref.Secret, sink func(Value)) (Report, error) {
	return c.Download(ctx, Request{Named: want}, sink)
}
