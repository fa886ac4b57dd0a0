package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/etherisc/depeg-relay/console"
	"github.com/etherisc/depeg-relay/monitor"
)

// TestWebhookOutboxOnThePage: with WEBHOOK_URL the queue section shows the
// events the receiver has not got, the dropped ones, and why it fails.
func TestWebhookOutboxOnThePage(t *testing.T) {
	f := newFixture(t, func(c *console.Config) {
		c.Health = fakeHealth{monitor.Report{Processor: monitor.StatusOK, NonAckPendingTx: monitor.StatusOK,
			Webhooks: &monitor.WebhookReport{Pending: i64(12), Dropped: i64(3), Failing: "refused since 2027-01-15T08:00:00Z"}}}
	})
	code, _, body := f.get(t, console.Path)
	if code != http.StatusOK {
		t.Fatalf("GET /console: %d", code)
	}
	mustContain(t, body, "Webhook events waiting / dropped", "12 / 3", "Webhook receiver failing", "refused since 2027-01-15T08:00:00Z")
	if _, _, body := newFixture(t, nil).get(t, console.Path); strings.Contains(body, "Webhook") {
		t.Errorf("without webhooks the page shows a webhook row")
	}
}
