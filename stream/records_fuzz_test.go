package stream

import (
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// FuzzDecodeTxRecord feeds journal hash fields and values as a damaged or
// foreign Redis might hold them (decodeTxRecord decides what is quarantined).
// Properties: no panic; a record is accepted only under the field Record
// writes it to, its decimal nonce; an accepted record written back reads the
// same.
func FuzzDecodeTxRecord(f *testing.F) {
	rec := TxRecord{Nonce: 7, EntryID: "1732380000123-0", EntityID: "01ENTITY", Hashes: []string{"0xaa", "0xbb"},
		RawTx: "0x02f8", SignedAt: time.Unix(1732380000, 0).UTC(), NextRawTx: "0x02f9", Current: "0xbb"}
	good, _ := json.Marshal(rec)
	for _, s := range []struct{ field, raw string }{
		{"7", string(good)}, {"8", string(good)}, {"07", string(good)}, {"0", "null"}, {"0", "{}"}, {"", "{}"},
		{"7", `{"nonce":7,"hashes":"not a list"}`}, {"18446744073709551615", `{"nonce":18446744073709551615}`},
		{"1", `{"nonce":1.5}`}, {"1", `{"nonce":-1}`}, {"1", `{"nonce":1}{"nonce":2}`}, {"1", `{"nonce":1,"nonce":2}`},
		{"2", `{"nonce":2,"signedAt":"yesterday"}`}, {"3", "\xff"}, {"3", ""}, {"+3", `{"nonce":3}`},
	} {
		f.Add(s.field, s.raw)
	}
	f.Fuzz(func(t *testing.T, field, raw string) {
		r, err := decodeTxRecord(field, raw)
		if err != nil {
			return
		}
		if field != strconv.FormatUint(r.Nonce, 10) {
			t.Fatalf("record with nonce %d accepted under field %q", r.Nonce, field)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("accepted record does not encode: %v", err)
		}
		back, err := decodeTxRecord(field, string(again))
		if err != nil {
			t.Fatalf("accepted record written back is refused: %v (%s)", err, again)
		}
		if b2, _ := json.Marshal(back); string(b2) != string(again) {
			t.Fatalf("record read back differs:\n%s\n%s", again, b2)
		}
	})
}

// FuzzParseDeadLetter feeds dead-letter stream entries as an operator's
// tools or a damaged stream might hold them; the admin routes and the
// deadletters command show and replay them. Properties: no panic; the
// application copy is either taken (a JSON object of strings, kept as it
// is) or reported as unreadable, never both.
func FuzzParseDeadLetter(f *testing.F) {
	f.Add("1-0", "01ENTITY", "malformed", "bad", "2026-01-01T00:00:00Z", "", `{"policyHolder":"0x1"}`)
	f.Add("", "", "", "", "not a time", "0xzz", `{"a":1}`)
	f.Add("x", "y", "z", "\xff", "", "", `[]`)
	f.Add("x", "y", "z", "", "", "", `null`)
	f.Add("x", "y", "z", "", "", "", `{"a":"b"} trailing`)
	f.Fuzz(func(t *testing.T, entryID, entityID, class, reason, at, txHash, application string) {
		m := redis.XMessage{ID: "1-1", Values: map[string]any{"entryId": entryID, "entityId": entityID, "class": class,
			"reason": reason, "time": at, "transactionHash": txHash, "application": application}}
		e := parseDeadLetter(m)
		if e.EntryID != entryID || e.EntityID != entityID || e.Class != class || e.Reason != reason || e.TxHash != txHash {
			t.Fatalf("fields not kept: %+v", e)
		}
		if e.Fields != nil && e.ApplicationErr != nil {
			t.Fatalf("application copy both taken and unreadable: %v, %v", e.Fields, e.ApplicationErr)
		}
		if application == "" && (e.Fields != nil || e.ApplicationErr != nil) {
			t.Fatalf("no copy, yet %v / %v", e.Fields, e.ApplicationErr)
		}
		var want map[string]string
		if json.Unmarshal([]byte(application), &want) == nil && want != nil && !reflect.DeepEqual(e.Fields, want) {
			t.Fatalf("copy %q read as %v", application, e.Fields)
		}
	})
}
