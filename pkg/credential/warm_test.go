package credential

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-cmp/cmp"
)

// slowCredential records its token requests and how many ran at once.
type slowCredential struct {
	mu      sync.Mutex
	asked   []policy.TokenRequestOptions
	running atomic.Int32
	most    atomic.Int32
}

func (c *slowCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	time.Sleep(5 * time.Millisecond)
	c.mu.Lock()
	c.asked = append(c.asked, o)
	c.mu.Unlock()
	return azcore.AccessToken{Token: "t", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestSerialWarm: Warm asks for the vault's token as the bearer policy
// will (same scope, tenant and CAE), its wait returns once that request
// is over, and no two requests of a Serial ever overlap.
func TestSerialWarm(t *testing.T) {
	c := &slowCredential{}
	s := NewSerial(c)
	wait := s.Warm(context.Background(), "tenant-1", "https://vault.azure.net/")
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = s.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
		}()
	}
	wait()
	wg.Wait()
	if got := c.most.Load(); got != 1 {
		t.Errorf("%d token requests at once, want 1", got)
	}
	want := policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}, TenantID: "tenant-1", EnableCAE: true}
	found := false
	for _, o := range c.asked {
		found = found || cmp.Equal(want, o)
	}
	if len(c.asked) != 5 || !found {
		t.Errorf("requests %+v, want 5 with %+v among them", c.asked, want)
	}
	if w := NewSerial(c).Warm(context.Background(), "", "https://vault.azure.net"); w == nil {
		t.Error("Warm without a tenant returned no wait")
	} else {
		w()
	}
}
