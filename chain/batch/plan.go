package batch

// Batches form without waiting (issue 22): at each pass, the applications a
// key has ready go into as few transactions as the limits allow, in the
// order they came, and a lone application is not held back.

// reserve is the contract's RESERVE: kept back per application for its
// event and the loop.
const reserve = 30_000

// txBase is what a batch transaction costs besides its applications: the
// intrinsic 21,000 and the contract's entry (dispatch, decoding the array
// head, the product's address).
const txBase = 21_000 + 10_000

// calldataGasPerByte prices calldata as if every byte were non-zero (16),
// which bounds the real cost (4 per zero byte) from above.
const calldataGasPerByte = 16

// GasFor is the gas limit of a batch transaction that gives each of its
// applications its own limit, whatever each one uses: per application, its
// limit, the 1/64 that EIP-150 keeps back from a call (limit/63, rounded
// up, covers it) and the reserve the contract checks for; plus the
// transaction's base and its calldata (dataLen bytes). The contract reverts
// the whole batch rather than starve an application, so this bound is what
// keeps a batch from failing as a whole.
func GasFor(limits []uint64, dataLen int) uint64 {
	g := uint64(txBase) + uint64(dataLen)*calldataGasPerByte
	for _, l := range limits {
		g += l + (l+62)/63 + reserve
	}
	return g
}

// appDataLen is how many calldata bytes one application adds to a batch:
// its tuple's offset, eight words of head and its 65-byte signature padded
// to three words, with the signature's length word.
const appDataLen = 32 + 8*32 + 32 + 3*32

// batchDataLen is the calldata of a batch of n applications: the selector,
// the array's offset and length, and the applications.
func batchDataLen(n int) int { return 4 + 2*32 + n*appDataLen }

// Plan splits applications with the given gas limits, in order, into
// batches of at most maxApps whose GasFor stays within budget (a gas
// budget per transaction well under the block gas limit). An application
// whose own batch of one exceeds the budget still goes alone: the budget
// bounds batching, it does not reject applications (the node's estimate
// already said the call fits a block). It returns each batch as the
// indexes of its applications; maxApps < 1 is read as 1 (no batching).
func Plan(limits []uint64, maxApps int, budget uint64) [][]int {
	maxApps = max(maxApps, 1)
	var out [][]int
	var cur []int
	var curLimits []uint64
	for i, l := range limits {
		next := append(curLimits[:len(curLimits):len(curLimits)], l)
		if len(cur) > 0 && (len(cur) == maxApps || GasFor(next, batchDataLen(len(next))) > budget) {
			out = append(out, cur)
			cur, curLimits = nil, nil
			next = []uint64{l}
		}
		cur = append(cur, i)
		curLimits = next
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
