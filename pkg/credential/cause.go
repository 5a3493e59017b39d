package credential

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// The Azure SDK's token credentials (MSAL underneath) turn a transport
// error into text, so by the time GetToken returns, the type that says
// what happened (a redirect, a proxy's refusal, an untrusted certificate)
// is gone and a message could only quote it. causeTransport records the
// last transport error in the token request's context, and the credential
// New returns hands it on beside the SDK's error.

type causeKey struct{}

// causeSlot holds the last transport error of one GetToken call.
type causeSlot struct {
	mu  sync.Mutex
	err error
}

func (s *causeSlot) set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// explain returns err with the recorded cause attached, unless err still
// carries it.
func (s *causeSlot) explain(err error) error {
	s.mu.Lock()
	cause := s.err
	s.mu.Unlock()
	if cause == nil || errors.Is(err, cause) {
		return err
	}
	return &causedError{err: err, cause: cause}
}

// causedError is the SDK's error with the transport error behind it; both
// are found by errors.As.
type causedError struct{ err, cause error }

func (e *causedError) Error() string   { return e.err.Error() }
func (e *causedError) Unwrap() []error { return []error{e.err, e.cause} }

type causeTransport struct{ next policy.Transporter }

func (t causeTransport) Do(req *http.Request) (*http.Response, error) {
	next := t.next
	if next == nil {
		next = http.DefaultClient
	}
	resp, err := next.Do(req)
	if err != nil {
		if s, ok := req.Context().Value(causeKey{}).(*causeSlot); ok {
			s.set(err)
		}
	}
	return resp, err
}

// keepCause runs each GetToken with a slot for causeTransport.
type keepCause struct{ cred azcore.TokenCredential }

func (k keepCause) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	slot := &causeSlot{}
	tok, err := k.cred.GetToken(context.WithValue(ctx, causeKey{}, slot), opts)
	if err != nil {
		return tok, slot.explain(err)
	}
	return tok, nil
}
