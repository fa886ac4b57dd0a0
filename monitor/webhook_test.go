package monitor

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestWebhookFigure: the full report carries the webhook outbox's figure as
// given, liveness does not, and it never makes the report unhealthy.
func TestWebhookFigure(t *testing.T) {
	pending, dropped := int64(7), int64(40)
	fig := &WebhookReport{Pending: &pending, Dropped: &dropped, Delivered: 3, Failing: "refused since 2026-12-07T03:00:00Z"}
	f := newFixture(t, func(c *CheckerConfig) { c.Webhooks = func() *WebhookReport { return fig } })
	r := f.checker.Check(t.Context())
	if r.Webhooks != fig {
		t.Fatalf("Webhooks = %+v, want the figure", r.Webhooks)
	}
	if !r.Healthy() {
		t.Errorf("a failing receiver made the report unhealthy: %+v", r)
	}
	body, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), `"webhooks":{"pending":7,"dropped":40,"delivered":3,"failing":"refused since 2026-12-07T03:00:00Z"}`) {
		t.Errorf("body lacks the figure: %s", body)
	}
	if l := f.checker.Liveness(t.Context()); l.Webhooks != nil {
		t.Errorf("liveness carries the webhook figure")
	}
	if r := newFixture(t, nil).checker.Check(t.Context()); r.Webhooks != nil {
		t.Errorf("without webhooks the report has %+v", r.Webhooks)
	}
}
