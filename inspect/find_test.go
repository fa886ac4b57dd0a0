package inspect_test

import (
	"context"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/etherisc/depeg-relay/chain"
	"github.com/etherisc/depeg-relay/devchain"
	"github.com/etherisc/depeg-relay/frontend"
	"github.com/etherisc/depeg-relay/inspect"
	"github.com/etherisc/depeg-relay/intake"
	"github.com/etherisc/depeg-relay/internal/redistest"
	"github.com/etherisc/depeg-relay/stream"
)

const testMnemonic = "test test test test test test test test test test test junk"

// world is the relay's Redis layout on a real redis-server and the embedded
// EVM, with a Finder wired as the console wires it.
type world struct {
	t       *testing.T
	dc      *devchain.Chain
	client  *chain.Client
	rdb     *redis.Client
	queue   *stream.Queue
	status  *stream.StatusStore
	signer  *chain.Signer
	product *chain.Product
	finder  *inspect.Finder
	nonce   uint64
}

func newWorld(t *testing.T) *world {
	t.Helper()
	key, err := chain.DeriveKey(testMnemonic, 0)
	if err != nil {
		t.Fatal(err)
	}
	signer := chain.NewSigner(key, big.NewInt(devchain.ChainID))
	dc, err := devchain.Start(devchain.Options{Fund: []common.Address{signer.Address()}, Batch: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	client, err := chain.Dial(t.Context(), dc.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	rdb := redistest.Start(t).Client()
	keys := stream.Keys{Stream: "application:signatures", Group: "depeg-backend-processor", Consumer: "c",
		DeadLetter: "application:signatures:dead", Wallet: strings.ToLower(signer.Address().Hex())}
	w := &world{t: t, dc: dc, client: client, rdb: rdb, queue: stream.NewQueue(rdb, keys),
		status: stream.NewStatusStore(rdb, keys.Stream, time.Hour), signer: signer, product: chain.NewProduct(dc.Product)}
	if err := w.queue.EnsureGroup(t.Context()); err != nil {
		t.Fatal(err)
	}
	pub := stream.NewPublisher(rdb, keys.Stream, stream.PublishOptions{StatusTTL: time.Hour})
	svc := intake.New(intake.Config{Product: w.product, From: signer.Address(), RPCTimeout: 5 * time.Second},
		zerolog.Nop(), client, pub, w.status, w.queue, nil)
	w.finder = &inspect.Finder{
		Status: svc, Holders: w.status, DeadLetters: w.queue,
		Journal: func(ctx context.Context) ([]inspect.Flight, error) {
			return inspect.Journal(ctx, rdb, w.queue.JournalKey())
		},
		Chain: client, Product: dc.Product, Wallet: signer.Address(),
	}
	return w
}

// enqueue writes a signed application as the frontend does, and indexes it
// as the relay's ObservedQueue does when it loads it.
func (w *world) enqueue() (string, *frontend.Application) {
	w.t.Helper()
	app, err := frontend.NewSigned(w.dc.ChainID, w.dc.Helper, 1)
	if err != nil {
		w.t.Fatal(err)
	}
	id := frontend.NewEntityID()
	if _, err := frontend.Enqueue(w.t.Context(), w.rdb, "application:signatures", id, frontend.Fields(app)); err != nil {
		w.t.Fatal(err)
	}
	if err := w.status.Index(w.t.Context(), stream.Indexed{EntityID: id, Holder: app.PolicyHolder}); err != nil {
		w.t.Fatal(err)
	}
	return id, app
}

// submit signs app's transaction from the relay wallet, journals it as the
// relay does (which sets transactionHash) and sends it, without mining.
func (w *world) submit(id string, app *frontend.Application) *types.Transaction {
	w.t.Helper()
	sid, _ := frontend.SignatureIDToBytes32(app.SignatureID)
	call, err := w.product.Apply(chain.ApplicationArgs{PolicyHolder: app.PolicyHolder, ProtectedWallet: app.ProtectedWallet,
		ProtectedBalance: app.ProtectedBalance, Duration: app.Duration, BundleID: app.BundleID, SignatureID: sid, Signature: app.Signature})
	if err != nil {
		w.t.Fatal(err)
	}
	tx, err := w.signer.Sign(call, w.nonce, 1_000_000, chain.Fees{FeeCap: big.NewInt(30 * params.GWei), TipCap: big.NewInt(params.GWei)})
	if err != nil {
		w.t.Fatal(err)
	}
	raw, _ := tx.MarshalBinary()
	rec := stream.TxRecord{Nonce: w.nonce, EntryID: "1-0", EntityID: id, Hashes: []string{tx.Hash().Hex()},
		RawTx: hexutil.Encode(raw), SignedAt: time.Now()}
	if err := w.queue.Record(w.t.Context(), rec); err != nil {
		w.t.Fatal(err)
	}
	w.nonce++
	if errs, err := w.client.SendTransactions(w.t.Context(), []*types.Transaction{tx}); err != nil || errs[0] != nil {
		w.t.Fatalf("send: %v %v", err, errs)
	}
	return tx
}

func (w *world) find(q string) inspect.Result {
	w.t.Helper()
	res, err := w.finder.Find(w.t.Context(), q)
	if err != nil {
		w.t.Fatalf("find %s: %v", q, err)
	}
	return res
}

func TestFindByEntityAddressAndTransaction(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()

	queued, qApp := w.enqueue()
	if res := w.find(queued); res.Kind != inspect.KindEntity || len(res.Applications) != 1 || res.Applications[0].Status != stream.StateQueued {
		t.Fatalf("queued application: %+v", res)
	}
	// A lower-case ULID is the same id.
	if res := w.find(strings.ToLower(queued)); len(res.Applications) != 1 {
		t.Fatalf("lower-case entityId: %+v", res)
	}

	// Rejected, and not in the holder index: found through its dead letter.
	rejApp, err := frontend.NewSigned(w.dc.ChainID, w.dc.Helper, 0)
	if err != nil {
		t.Fatal(err)
	}
	rejected := frontend.NewEntityID()
	obs := &intake.ObservedQueue{Queue: w.queue, Status: w.status}
	if err := obs.DeadLetter(ctx, stream.DeadLetter{EntryID: "2-0", EntityID: rejected, Class: "application",
		Reason: "ERROR:DP-012:BUNDLE_ID_ZERO", At: time.Now(), Fields: frontend.Fields(rejApp)}); err != nil {
		t.Fatal(err)
	}
	res := w.find(rejApp.PolicyHolder.Hex())
	if res.Kind != inspect.KindAddress || len(res.Applications) != 1 || res.Applications[0].Status != stream.StateRejected ||
		res.Applications[0].Reason != "ERROR:DP-012:BUNDLE_ID_ZERO" {
		t.Fatalf("rejected application by holder: %+v", res)
	}
	if res := w.find(strings.ToLower(qApp.PolicyHolder.Hex())); len(res.Applications) != 1 || res.Applications[0].EntityID != queued {
		t.Fatalf("queued application by lower-case holder: %+v", res)
	}

	// In flight: the journal knows the hash.
	submitted, sApp := w.enqueue()
	tx := w.submit(submitted, sApp)
	res = w.find(tx.Hash().Hex())
	if res.Kind != inspect.KindTransaction || res.Transaction == nil || res.Transaction.State != "in flight" ||
		res.Transaction.Nonce == nil || *res.Transaction.Nonce != 0 || !res.Transaction.Ours ||
		res.Transaction.PolicyHolder != sApp.PolicyHolder.Hex() || res.Transaction.SignatureID != sApp.SignatureID {
		t.Fatalf("in-flight transaction: %+v %+v", res, res.Transaction)
	}
	if len(res.Applications) != 1 || res.Applications[0].Status != stream.StateSubmitted || res.Applications[0].EntityID != submitted {
		t.Fatalf("in-flight application: %+v", res.Applications)
	}

	// Mined, settled and forgotten as the relay settles it: only the node
	// and the status record are left, found through the policy holder.
	w.dc.Commit()
	w.dc.Commit()
	rcpt, err := w.client.TransactionReceipt(ctx, tx.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.status.Confirmed(ctx, stream.Confirmation{EntityID: submitted, EntryID: "3-0", TxHash: tx.Hash(), Block: rcpt.BlockNumber.Uint64()}); err != nil {
		t.Fatal(err)
	}
	if err := w.queue.Forget(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.queue.Ack(ctx, stream.Settled{EntryID: "3-0", EntityID: submitted}); err != nil {
		t.Fatal(err)
	}
	res = w.find(tx.Hash().Hex())
	tr := res.Transaction
	if tr == nil || tr.State != "mined" || tr.Block != rcpt.BlockNumber.Uint64() || tr.Confirmations != 2 ||
		tr.Succeeded == nil || !*tr.Succeeded || tr.ProcessID == "" || tr.From != w.signer.Address().Hex() || tr.Nonce != nil {
		t.Fatalf("mined transaction: %+v", tr)
	}
	if len(res.Applications) != 1 || res.Applications[0].Status != stream.StateConfirmed || res.Applications[0].EntityID != submitted {
		t.Fatalf("confirmed application by transaction: %+v", res.Applications)
	}

	// Nothing known, and nonsense.
	if res := w.find(common.Hash{1}.Hex()); res.Found() {
		t.Fatalf("unknown transaction found: %+v", res)
	}
	if res := w.find(frontend.NewEntityID()); res.Found() {
		t.Fatalf("unknown entity found: %+v", res)
	}
	if _, err := w.finder.Find(ctx, "DROP TABLE"); !errors.Is(err, inspect.ErrQuery) {
		t.Fatalf("nonsense query: %v", err)
	}
}

func TestJournalReadsWithoutWriting(t *testing.T) {
	w := newWorld(t)
	ctx := t.Context()
	id, app := w.enqueue()
	tx := w.submit(id, app)
	key := w.queue.JournalKey()
	if err := w.rdb.HSet(ctx, key, "7", "{broken", "8", `{"nonce":9}`).Err(); err != nil {
		t.Fatal(err)
	}
	flights, err := inspect.Journal(ctx, w.rdb, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(flights) != 3 || flights[0].Record.Nonce != 0 || flights[0].Tx == nil || flights[0].Tx.Hash() != tx.Hash() ||
		flights[1].Unreadable == "" || flights[2].Unreadable == "" {
		t.Fatalf("flights %+v", flights)
	}
	if hs := flights[0].Hashes(); len(hs) != 1 || hs[0] != tx.Hash() {
		t.Fatalf("hashes %v", hs)
	}
	if n := w.rdb.HLen(ctx, key).Val(); n != 3 {
		t.Fatalf("journal has %d records after a look, want 3 (nothing moved)", n)
	}
	if n := w.rdb.Exists(ctx, w.queue.JournalQuarantineKey()).Val(); n != 0 {
		t.Fatal("a look quarantined a record")
	}
	if age := flights[0].Age(time.Now().Add(time.Minute)); age < time.Minute {
		t.Fatalf("age %s", age)
	}
}
