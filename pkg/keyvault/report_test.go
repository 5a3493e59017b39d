package keyvault

import (
	"errors"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func TestSharedCause(t *testing.T) {
	auth := &azidentity.AuthenticationFailedError{}
	network := errors.New("dial tcp: connection refused")
	notFound := &azcore.ResponseError{StatusCode: http.StatusNotFound, ErrorCode: "SecretNotFound"}
	tests := []struct {
		name string
		errs []error
		want error // nil: each failure on its own
	}{
		{"token refused", []error{auth}, auth},
		{"token refused for every secret", []error{network, auth, auth}, auth},
		{"no answer for several", []error{network, network}, network},
		{"no answer for one: its own message", []error{network}, nil},
		{"a secret the vault answered for", []error{auth, notFound}, nil},
		{"network, and a secret the vault answered for", []error{network, network, notFound}, nil},
		{"nothing failed", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl tally
			for i, err := range tt.errs {
				tl.addFailure(Failure{Name: string(rune('a' + i)), Err: err})
			}
			if got := tl.report().Shared; got != tt.want {
				t.Errorf("Shared = %v; want %v", got, tt.want)
			}
		})
	}
}
