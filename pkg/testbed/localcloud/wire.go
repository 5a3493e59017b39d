// The wire: the reply before it is written, the JSON bodies, the error bodies (hostile.go shapes them too).

package localcloud

import (
	"net/http"
	"time"
)

// reply is a Key Vault response before it is written.
type reply struct {
	status int
	header http.Header
	body   any
}

// skipToken is the shape of Key Vault's opaque $skiptoken (base64 JSON).
type skipToken struct {
	NextMarker     string `json:"NextMarker"`
	TargetLocation int    `json:"TargetLocation"`
}

type listPage struct {
	Value    []secretItem `json:"value"`
	NextLink *string      `json:"nextLink"`
}

type attributes struct {
	Enabled         bool   `json:"enabled"`
	NotBefore       *int64 `json:"nbf,omitempty"`
	Expires         *int64 `json:"exp,omitempty"`
	Created         int64  `json:"created"`
	Updated         int64  `json:"updated"`
	RecoveryLevel   string `json:"recoveryLevel"`
	RecoverableDays int    `json:"recoverableDays"`
}

// secretItem and secretBundle keep Key Vault's field order, as recorded
// (pkg/testbed/recorded): contentType, id, managed, attributes, tags; a
// bundle starts with the value and ends with the kid.
type secretItem struct {
	ContentType string            `json:"contentType,omitempty"`
	ID          string            `json:"id,omitempty"` // never empty, but for a hostile list entry
	Managed     bool              `json:"managed,omitempty"`
	Attributes  attributes        `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
}

type secretBundle struct {
	Value       string            `json:"value"`
	ContentType string            `json:"contentType,omitempty"`
	ID          string            `json:"id"`
	Managed     bool              `json:"managed,omitempty"`
	Attributes  attributes        `json:"attributes"`
	Tags        map[string]string `json:"tags,omitempty"`
	Kid         string            `json:"kid,omitempty"`
}

func attributesOf(sv storedVersion) attributes {
	unix := func(t time.Time) *int64 {
		if t.IsZero() {
			return nil
		}
		u := t.Unix()
		return &u
	}
	return attributes{
		Enabled:         !sv.Disabled,
		NotBefore:       unix(sv.NotBefore),
		Expires:         unix(sv.Expires),
		Created:         sv.created.Unix(),
		Updated:         sv.updated.Unix(),
		RecoveryLevel:   "Recoverable+Purgeable",
		RecoverableDays: 90,
	}
}

type kvErrorBody struct {
	Error kvErrorDetail `json:"error"`
}

type kvErrorDetail struct {
	Code       string       `json:"code"`
	Message    string       `json:"message"`
	InnerError *kvInnerCode `json:"innererror,omitempty"`
}

type kvInnerCode struct {
	Code string `json:"code"`
}

func kvError(code, msg, inner string) kvErrorBody {
	b := kvErrorBody{Error: kvErrorDetail{Code: code, Message: msg}}
	if inner != "" {
		b.Error.InnerError = &kvInnerCode{Code: inner}
	}
	return b
}

func badParameter(msg string) reply {
	return reply{status: http.StatusBadRequest, header: http.Header{}, body: kvError("BadParameter", msg, "")}
}
