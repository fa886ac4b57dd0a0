package oncall

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/config"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/internal/opsworld"
	"github.com/etherisc/depeg-relay/lease"
	"github.com/etherisc/depeg-relay/monitor"
	"github.com/etherisc/depeg-relay/poolkeys"
	"github.com/etherisc/depeg-relay/stream"
)

// testMnemonic is the well-known test phrase; its index 0 is the relay key.
const testMnemonic = "test test test test test test test test test test test junk"

var update = flag.Bool("update", false, "rewrite the golden files of the on-call subcommands")

// opsWorld is the shared test world (package internal/opsworld) with this
// package's helpers on it.
type opsWorld struct{ *opsworld.World }

func newOpsWorld(t *testing.T, env ...string) *opsWorld {
	t.Helper()
	return &opsWorld{opsworld.New(t, testMnemonic, env...)}
}

// id is a stream entry id enqueued ago before the world's clock.
func (w *opsWorld) id(ago time.Duration) string {
	return strconv.FormatInt(w.Now.Add(-ago).UnixMilli(), 10) + "-0"
}

// run runs a subcommand in process with the world's clock.
func (w *opsWorld) run(cmd string, args ...string) (string, error) {
	w.T.Helper()
	var out bytes.Buffer
	err := Run(w.T.Context(), w.Cfg, cmd, args, &out, func() time.Time { return w.Now })
	return out.String(), err
}

// sign signs a transaction of the relay wallet with fixed fees: signatures
// are deterministic (RFC 6979), so the hashes in the golden files are too.
func (w *opsWorld) sign(call chain.Call, nonce uint64, feeGwei, tipGwei int64) *types.Transaction {
	w.T.Helper()
	tx, err := w.Signer.Sign(call, nonce, 300_000, chain.Fees{FeeCap: big.NewInt(feeGwei * params.GWei), TipCap: big.NewInt(tipGwei * params.GWei)})
	if err != nil {
		w.T.Fatal(err)
	}
	return tx
}

func (w *opsWorld) send(tx *types.Transaction) {
	w.T.Helper()
	if errs, err := w.Client.SendTransactions(w.T.Context(), []*types.Transaction{tx}); err != nil || errs[0] != nil {
		w.T.Fatalf("send: %v %v", err, errs)
	}
}

func (w *opsWorld) record(recs ...stream.TxRecord) {
	w.T.Helper()
	if err := w.Queue.Record(w.T.Context(), recs...); err != nil {
		w.T.Fatal(err)
	}
}

func raw(t *testing.T, tx *types.Transaction) string {
	t.Helper()
	b, err := tx.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return hexutil.Encode(b)
}

// golden compares got with testdata/<name>.golden; -update rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./oncall -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from %s (-update rewrites it):\n--- got\n%s\n--- want\n%s", name, path, got, want)
	}
}

// TestStatusGolden: the monitor as a table, from a Redis with pending,
// undelivered and dead-lettered entries, a last-check two seconds old and
// a wallet below its alert balance (so one check fails and the exit says so).
func TestStatusGolden(t *testing.T) {
	w := newOpsWorld(t, "PROCESSOR_ALERT_BALANCE=2000000000000000000000")
	ctx := t.Context()
	if err := w.RDB.Set(ctx, stream.LastCheckKey, w.Now.Add(-2*time.Second).Format(time.RFC3339Nano), 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, ago := range []time.Duration{150 * time.Second, 90 * time.Second, 30 * time.Second} {
		if err := w.RDB.XAdd(ctx, &redis.XAddArgs{Stream: w.Cfg.StreamKey, ID: w.id(ago), Values: map[string]any{"entityId": "x"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Queue.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Queue.ReadOwnPending(ctx, "0", 1); err != nil {
		t.Fatal(err)
	}
	if err := w.RDB.XReadGroup(ctx, &redis.XReadGroupArgs{Group: w.Cfg.GroupName, Consumer: w.Cfg.ConsumerName,
		Streams: []string{w.Cfg.StreamKey, ">"}, Count: 2}).Err(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := w.RDB.XAdd(ctx, &redis.XAddArgs{Stream: w.Cfg.DeadLetterStreamKey, Values: map[string]any{"entryId": i, "class": "malformed"}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	w.record(stream.TxRecord{Nonce: 0, EntryID: w.id(150 * time.Second), EntityID: "01M84VAXA3ENVW6NN6H78HSK7Z",
		Hashes: []string{common.Hash{1}.Hex()}, SignedAt: w.Now.Add(-time.Minute)})

	out, err := w.run("status")
	if !errors.Is(err, errUnhealthy) || Exit(err) != 3 {
		t.Fatalf("status with a failing check: %v (exit %d)", err, Exit(err))
	}
	golden(t, "status", strings.ReplaceAll(out, w.DC.Product.Hex(), "<product>"))

	js, err := w.run("status", "-json")
	if !errors.Is(err, errUnhealthy) {
		t.Fatalf("status -json: %v", err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("status -json is not JSON: %v\n%s", err, js)
	}
	if rep["balance"] != "error - balance 1000 ETH below alert 2000 ETH" || rep["processor"] != "ok" ||
		rep["pendingCount"] != 2.0 || rep["lag"] != 1.0 || rep["inFlight"] != 1.0 || rep["wallet"] != w.Signer.Address().Hex() {
		t.Fatalf("status -json: %s", js)
	}

	// No relay ever wrote last-check: the loop check says so instead of
	// passing on the subcommand's own start.
	if err := w.RDB.Del(ctx, stream.LastCheckKey).Err(); err != nil {
		t.Fatal(err)
	}
	out, _ = w.run("status")
	if !strings.Contains(out, "no loop iteration recorded") {
		t.Fatalf("status without last-check:\n%s", out)
	}
}

// TestPoolGolden: a pool of three keys (PROCESSOR_ACCOUNT_INDEX=0-2) as
// status and inflight show it: every key's wallet, balance, lease (held by
// two processes, the third orphaned with a record in its journal), in
// flight and nonces, and every journal record with its wallet. Without the
// mnemonic the commands read the same keys from Redis (the wallets the
// pool registered), and print the same.
func TestPoolGolden(t *testing.T) {
	w := newOpsWorld(t, "PROCESSOR_ACCOUNT_INDEX=0-2", "PROCESSOR_ALERT_BALANCE=500000000000000000000")
	ctx := t.Context()
	if err := w.Queue.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.RDB.Set(ctx, stream.LastCheckKey, w.Now.Add(-time.Second).Format(time.RFC3339Nano), 0).Err(); err != nil {
		t.Fatal(err)
	}
	keys, err := poolkeys.Wallets(w.Cfg.ProcessorMnemonic.Reveal(), w.Cfg.ProcessorAccountIndexes)
	if err != nil || len(keys) != 3 {
		t.Fatalf("pool keys: %d %v", len(keys), err)
	}
	holders := []string{"relay-a/4242/0123456789abcdef", "relay-b/77/fedcba9876543210", lease.Released}
	for i, k := range keys {
		wallet := strings.ToLower(k.Hex())
		q := stream.NewQueue(w.RDB, stream.Keys{Stream: w.Cfg.StreamKey, Group: w.Cfg.GroupName, Consumer: w.Cfg.ConsumerName,
			DeadLetter: w.Cfg.DeadLetterStreamKey, Wallet: wallet})
		if err := w.RDB.SAdd(ctx, stream.WalletsKey(w.Cfg.StreamKey), wallet).Err(); err != nil {
			t.Fatal(err)
		}
		if err := w.RDB.Set(ctx, lease.Key(wallet), holders[i], 0).Err(); err != nil {
			t.Fatal(err)
		}
		for n := range i + 1 {
			if err := q.Record(ctx, stream.TxRecord{Nonce: uint64(n), EntryID: w.id(time.Duration(10*(i+1)) * time.Second),
				EntityID: fmt.Sprintf("01M84VAXA3ENVW6NN6H78HSK%d%d", i, n), Hashes: []string{common.Hash{byte(16*i + n + 1)}.Hex()},
				SignedAt: w.Now.Add(-time.Duration(i+n+1) * time.Minute)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Key 0 is funded with 1000 ETH; give key 1 an amount with 18 decimals.
	odd, _ := new(big.Int).SetString("123456789012345678901", 10)
	to := keys[1]
	tx, err := types.SignNewTx(testKey(t, 0), types.LatestSignerForChainID(big.NewInt(devchain.ChainID)), &types.DynamicFeeTx{
		ChainID: big.NewInt(devchain.ChainID), Nonce: 0, To: &to, Value: odd, Gas: 21_000,
		GasFeeCap: big.NewInt(30 * params.GWei), GasTipCap: big.NewInt(params.GWei)})
	if err != nil {
		t.Fatal(err)
	}
	w.send(tx)
	w.DC.Commit()

	// The process relaying key 0 recorded what only it knows; key 1's
	// holder (relay-b) wrote nothing, so its figures are unknown.
	held, window, hours := uint64(1), uint64(64), 12.5
	live, _ := json.Marshal(LiveReport{Process: "relay-a", Version: "0123456789ab", StartedAt: w.Now.Add(-3 * time.Hour),
		UpdatedAt: w.Now.Add(-2 * time.Second), Keys: []monitor.KeyReport{
			{Wallet: keys[0].Hex(), RunwayHours: &hours, Runway: "12.5 hours at 70.09 ETH/hour",
				NodeHeld: &held, NodeWindow: &window},
			{Wallet: keys[1].Hex(), Lease: "standby - held by relay-b/77"},
		}})
	if err := stream.NewLiveStore(w.RDB, w.Cfg.StreamKey).Put(ctx, "relay-a", live, time.Minute); err != nil {
		t.Fatal(err)
	}
	product := func(s string) string { return strings.ReplaceAll(s, w.DC.Product.Hex(), "<product>") }
	status, err := w.run("status")
	if Exit(err) != 3 {
		t.Fatalf("status of a pool with an empty key: %v", err)
	}
	golden(t, "status-pool", product(status))
	inflight, err := w.run("inflight")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "inflight-pool", product(inflight))

	js, _ := w.run("status", "-json")
	var rep statusReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil || len(rep.Pool) != 3 || rep.Pool[1].BalanceEth != "123.456789012345678901" ||
		rep.Header.ChainID != "1337" || rep.Header.HeadBlock == "unknown" {
		t.Fatalf("status -json: %v\n%s", err, js)
	}

	// Without the mnemonic: the same keys, read from Redis (in address
	// order, not the configuration's, so the balance check names them in
	// that order too).
	w.Cfg.ProcessorMnemonic = config.Secret{}
	lines := func(s string) []string {
		l := slices.DeleteFunc(strings.Split(product(s), "\n"), func(l string) bool { return strings.HasPrefix(l, "balance ") })
		slices.Sort(l)
		return l
	}
	if out, _ := w.run("status"); !slices.Equal(lines(out), lines(status)) {
		t.Errorf("status without the mnemonic differs:\n%s\n--- with it\n%s", out, status)
	}
	if out, _ := w.run("inflight"); !slices.Equal(lines(out), lines(inflight)) { // lines() masks the product
		t.Errorf("inflight without the mnemonic differs:\n%s\n--- with it\n%s", out, inflight)
	}

	// app: a transaction of the second key is the relay's, and one in a
	// journal of the third is found in flight.
	self := keys[1]
	tx2, err := types.SignNewTx(testKey(t, 1), types.LatestSignerForChainID(big.NewInt(devchain.ChainID)), &types.DynamicFeeTx{
		ChainID: big.NewInt(devchain.ChainID), Nonce: 0, To: &self, Gas: 21_000,
		GasFeeCap: big.NewInt(30 * params.GWei), GasTipCap: big.NewInt(params.GWei)})
	if err != nil {
		t.Fatal(err)
	}
	w.send(tx2)
	for hash, state := range map[string]string{tx2.Hash().Hex(): "in the node's pool", common.Hash{byte(16*2 + 0 + 1)}.Hex(): "in flight"} {
		js, _ := w.run("app", "-json", hash)
		var res struct {
			Transaction struct {
				State string
				Ours  bool
			}
		}
		if err := json.Unmarshal([]byte(js), &res); err != nil || !res.Transaction.Ours || res.Transaction.State != state {
			t.Errorf("app %s: %v\n%s", hash, err, js)
		}
	}
}

// TestInflightGolden: the journal as the on-call sees it, one line per
// nonce: a gap fill mined, a replaced application transaction in the
// node's pool, one journaled but never sent, and an unreadable record.
func TestInflightGolden(t *testing.T) {
	w := newOpsWorld(t)
	ctx := t.Context()
	product := chain.NewProduct(w.DC.Product)
	var sid [32]byte
	copy(sid[:], "T8668yFbT83ROkMA1BjLK")
	call, err := product.Apply(chain.ApplicationArgs{
		PolicyHolder: common.HexToAddress("0x00000000000000000000000000000000000000a1"), ProtectedWallet: common.HexToAddress("0x00000000000000000000000000000000000000a2"),
		ProtectedBalance: big.NewInt(5_000_000_000), Duration: big.NewInt(2_592_000), BundleID: big.NewInt(1),
		SignatureID: sid, Signature: bytes.Repeat([]byte{7}, 65),
	})
	if err != nil {
		t.Fatal(err)
	}
	// The devchain deploys from a fresh key, so its product address (and a
	// transaction to it) differs per run; a fixed one keeps the hashes
	// golden. The node holds the transactions without simulating them.
	call.To = common.HexToAddress("0x00000000000000000000000000000000000000c0")
	self := chain.Call{To: w.Signer.Address()}

	gap := w.sign(self, 0, 30, 1)
	w.record(stream.TxRecord{Nonce: 0, Kind: stream.KindGapFill, Hashes: []string{gap.Hash().Hex()}, RawTx: raw(t, gap),
		SignedAt: w.Now.Add(-3 * time.Minute)})
	w.send(gap)
	w.DC.Commit()

	first, replacement := w.sign(call, 1, 30, 1), w.sign(call, 1, 35, 2)
	w.record(stream.TxRecord{Nonce: 1, EntryID: w.id(2 * time.Minute), EntityID: "01M84VAXA3ENVW6NN6H78HSK7Z",
		Hashes: []string{first.Hash().Hex(), replacement.Hash().Hex()}, RawTx: raw(t, replacement), Current: replacement.Hash().Hex(),
		SignedAt: w.Now.Add(-90 * time.Second)})
	w.send(replacement)

	unsent := w.sign(call, 2, 30, 1)
	w.record(stream.TxRecord{Nonce: 2, EntryID: w.id(time.Minute), EntityID: "01M84VAXA4ENVW6NN6H78HSK80",
		Hashes: []string{unsent.Hash().Hex()}, RawTx: raw(t, unsent), SignedAt: w.Now.Add(-5 * time.Second)})
	if err := w.RDB.HSet(ctx, w.Queue.JournalKey(), "7", "{not json").Err(); err != nil {
		t.Fatal(err)
	}

	out, err := w.run("inflight")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "inflight", strings.ReplaceAll(out, w.DC.Product.Hex(), "<product>"))

	js, err := w.run("inflight", "-json")
	if err != nil {
		t.Fatal(err)
	}
	var rep inflightReport
	if err := json.Unmarshal([]byte(js), &rep); err != nil {
		t.Fatalf("inflight -json: %v\n%s", err, js)
	}
	if len(rep.Flights) != 4 || rep.Flights[1].Current != replacement.Hash().Hex() || len(rep.Flights[1].Hashes) != 2 {
		t.Fatalf("inflight -json: %s", js)
	}
	// Reading wrote nothing: the unreadable record is still in the journal.
	if n := w.RDB.HLen(ctx, w.Queue.JournalKey()).Val(); n != 4 {
		t.Fatalf("journal holds %d records after inflight, want 4", n)
	}
	if n := w.RDB.Exists(ctx, w.Queue.JournalQuarantineKey()).Val(); n != 0 {
		t.Fatal("inflight quarantined a record")
	}
}

// TestAppSubcommand: the look-up by entityId, transaction and holder, and
// its exit codes.
func TestAppSubcommand(t *testing.T) {
	w := newOpsWorld(t)
	ctx := t.Context()
	entity := "01M84VAXA3ENVW6NN6H78HSK7Z"
	status := stream.NewStatusStore(w.RDB, w.Cfg.StreamKey, time.Hour)
	holder := common.HexToAddress("0x00000000000000000000000000000000000000a1")
	if err := status.Index(ctx, stream.Indexed{EntityID: entity, Holder: holder}); err != nil {
		t.Fatal(err)
	}
	if err := status.Confirmed(ctx, stream.Confirmation{EntityID: entity, EntryID: "1-0", TxHash: common.Hash{9}, Block: 3}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{entity, holder.Hex()} {
		out, err := w.run("app", q)
		if err != nil || !strings.Contains(out, "confirmed") || !strings.Contains(out, common.Hash{9}.Hex()) {
			t.Fatalf("app %s: %v\n%s", q, err, out)
		}
	}
	if _, err := w.run("app", "01M84VAXA3ENVW6NN6H78HSK7Y"); Exit(err) != 3 {
		t.Fatalf("unknown entity: %v", err)
	}
	if _, err := w.run("app", "nonsense"); Exit(err) != 2 {
		t.Fatalf("bad query: %v", err)
	}
	if _, err := w.run("app"); Exit(err) != 2 {
		t.Fatalf("no query: %v", err)
	}
}

// hostileText is what an attacker who can post an application or write to
// Redis may choose: a terminal title (OSC), a screen clear, a carriage
// return and an erased line that paint a fake row, a bell, a C1 CSI, DEL,
// a right-to-left override and a tab that would break the columns.
const hostileText = "\x1b]0;pwned\x07ok\r\x1b[2K\x1b[1AFAKE ROW\a\u009b2J\x7f\u202eevil\tcol"

// assertShownEscaped fails when out holds any character a terminal acts on
// (all but printable text and the layout's newlines), or when it does not
// show the hostile text in its escaped form.
func assertShownEscaped(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r != '\n' && !unicode.IsPrint(r) {
			t.Fatalf("%s: raw %U reaches the terminal:\n%q", what, r, out)
		}
	}
	if !strings.Contains(out, `\x1b]0;pwned\x07`) && !strings.Contains(out, `\u001b]0;pwned\u0007`) {
		t.Fatalf("%s: the hostile text is not shown escaped:\n%s", what, out)
	}
}

// TestSubcommandsEscapeForeignText: every on-call command, as text and as
// JSON, shows what Redis and the chain hold without letting any of it act
// on the terminal; the JSON still decodes to the stored values.
func TestSubcommandsEscapeForeignText(t *testing.T) {
	w := newOpsWorld(t)
	ctx := t.Context()
	if err := w.Queue.EnsureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	// status: the consumer name recorded in Redis.
	if err := w.RDB.Set(ctx, w.Queue.ConsumerKey(), hostileText, 0).Err(); err != nil {
		t.Fatal(err)
	}
	// app: a rejection recorded with a hostile class, reason and entry id,
	// under a policy holder, and a dead letter of the same holder.
	entity := "01M84VAXA3ENVW6NN6H78HSK7Z"
	holder := common.HexToAddress("0x00000000000000000000000000000000000000a1")
	status := stream.NewStatusStore(w.RDB, w.Cfg.StreamKey, time.Hour)
	if err := status.Index(ctx, stream.Indexed{EntityID: entity, Holder: holder}); err != nil {
		t.Fatal(err)
	}
	if err := status.Rejected(ctx, stream.DeadLetter{EntityID: entity, EntryID: "1-0" + hostileText, Class: hostileText,
		Reason: hostileText, At: w.Now}); err != nil {
		t.Fatal(err)
	}
	if err := w.Queue.DeadLetter(ctx, stream.DeadLetter{EntryID: "2-0", EntityID: hostileText, Class: "malformed",
		Reason: hostileText, At: w.Now, Fields: map[string]string{stream.FieldPolicyHolder: holder.Hex(), stream.FieldSignatureID: hostileText}}); err != nil {
		t.Fatal(err)
	}
	// inflight: records naming a hostile entity and kind, and an unreadable
	// one under a hostile field.
	w.record(stream.TxRecord{Nonce: 0, EntryID: hostileText, EntityID: hostileText, Hashes: []string{common.Hash{1}.Hex()}, SignedAt: w.Now},
		stream.TxRecord{Nonce: 1, Kind: hostileText, Hashes: []string{common.Hash{2}.Hex()}, SignedAt: w.Now})
	if err := w.RDB.HSet(ctx, w.Queue.JournalKey(), hostileText, "{not json").Err(); err != nil {
		t.Fatal(err)
	}
	// app <tx>: a transaction on the node whose calldata carries a hostile
	// signatureId (anyone may send one to the product).
	var sid [32]byte
	copy(sid[:], "\x1b]0;pwned\x07\x1b[2J")
	call, err := chain.NewProduct(w.DC.Product).Apply(chain.ApplicationArgs{PolicyHolder: holder, ProtectedWallet: holder,
		ProtectedBalance: big.NewInt(1), Duration: big.NewInt(1), BundleID: big.NewInt(1), SignatureID: sid, Signature: bytes.Repeat([]byte{7}, 65)})
	if err != nil {
		t.Fatal(err)
	}
	tx := w.sign(call, 2, 30, 1)
	w.send(tx)

	for _, args := range [][]string{
		{"status"}, {"status", "-json"}, {"inflight"}, {"inflight", "-json"},
		{"app", entity}, {"app", "-json", entity}, {"app", holder.Hex()}, {"app", "-json", holder.Hex()},
		{"app", tx.Hash().Hex()}, {"app", "-json", tx.Hash().Hex()},
	} {
		out, err := w.run(args[0], args[1:]...)
		if Exit(err) == 1 || Exit(err) == 2 {
			t.Fatalf("%v: %v", args, err)
		}
		assertShownEscaped(t, strings.Join(args, " "), out)
	}
	js, _ := w.run("app", "-json", entity)
	var res struct {
		Applications []struct{ Reason, Class string }
	}
	if err := json.Unmarshal([]byte(js), &res); err != nil || len(res.Applications) != 1 ||
		res.Applications[0].Reason != hostileText || res.Applications[0].Class != hostileText {
		t.Fatalf("app -json does not decode to the stored values: %v\n%s", err, js)
	}

	for _, args := range [][]string{{"list"}, {"show"}} {
		var out bytes.Buffer
		if args[0] == "show" {
			dls, err := w.Queue.DeadLetters(ctx, "", 1)
			if err != nil || len(dls) != 1 {
				t.Fatalf("dead letters: %v %v", dls, err)
			}
			args = append(args, dls[0].ID)
		}
		if err := DeadLetters(ctx, w.Cfg, args, &out); err != nil {
			t.Fatalf("deadletters %v: %v", args, err)
		}
		assertShownEscaped(t, "deadletters "+strings.Join(args, " "), out.String())
	}
}

// TestSubcommandsSayRedisUnreachable: with Redis down, every on-call
// command says "redis unreachable" and why, by category, and exits 1; none
// prints an empty queue, an empty journal or "nothing found".
func TestSubcommandsSayRedisUnreachable(t *testing.T) {
	w := newOpsWorld(t)
	w.Srv.Stop()
	for _, args := range [][]string{{"status"}, {"status", "-json"}, {"inflight"}, {"app", "01M84VAXA3ENVW6NN6H78HSK7Z"},
		{"app", "0x00000000000000000000000000000000000000a1"}} {
		out, err := w.run(args[0], args[1:]...)
		if !errors.Is(err, errRedisUnreachable) || Exit(err) != 1 ||
			!strings.HasPrefix(err.Error(), "redis unreachable: connection refused") {
			t.Fatalf("%v with Redis down: %v (exit %d)", args, err, Exit(err))
		}
		if out != "" {
			t.Fatalf("%v with Redis down printed:\n%s", args, out)
		}
	}
	var out bytes.Buffer
	if err := DeadLetters(t.Context(), w.Cfg, []string{"list"}, &out); !errors.Is(err, errRedisUnreachable) ||
		DeadLettersExit(err) != 1 || out.Len() != 0 {
		t.Fatalf("deadletters list with Redis down: %v (exit %d)\n%s", err, DeadLettersExit(err), out.String())
	}

}

// testKey is testMnemonic's key at index.
func testKey(t *testing.T, index uint32) *ecdsa.PrivateKey {
	t.Helper()
	k, err := chain.DeriveKey(testMnemonic, index)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
