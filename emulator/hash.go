package emulator

// Deterministic randomness. Every synthetic value is a pure function of the
// seed and of what it describes (tenant, control, day), computed by hashing
// rather than by drawing from a stateful generator: any day can be computed
// on its own, in any order, and yields the same bytes every time.

// mix is the splitmix64 finaliser: a fast bijective avalanche of 64 bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// h combines a key with further values into a new well-mixed key.
func h(key uint64, vs ...uint64) uint64 {
	for _, v := range vs {
		key = mix(key ^ mix(v+0x9e3779b97f4a7c15))
	}
	return key
}

// h1 is h with one value, without the variadic slice (hot paths).
func h1(key, v uint64) uint64 { return mix(key ^ mix(v+0x9e3779b97f4a7c15)) }

// unit maps a hash to [0, 1).
func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

// pick maps a hash to [0, n).
func pick(x uint64, n int) int { return int((x >> 1) % uint64(n)) }

// between maps a hash to [lo, hi].
func between(x uint64, lo, hi int) int { return lo + pick(x, hi-lo+1) }

// strHash is FNV-1a over s, then mixed.
func strHash(s string) uint64 {
	var x uint64 = 0xcbf29ce484222325
	for i := 0; i < len(s); i++ {
		x ^= uint64(s[i])
		x *= 0x100000001b3
	}
	return mix(x)
}

// Salts keep the hash streams of different purposes independent.
const (
	saltTenantID uint64 = iota + 1
	saltTenantName
	saltControls
	saltControlCount
	saltDifficulty
	saltTotal
	saltEvent
	saltLevel
	saltRegress
	saltState
	saltStateKind
	saltStream
	saltStreamIntro
	saltStreamLife
	saltStreamAttr
	saltTrend
	saltQuirk
	saltHole
	saltSentinel
	saltAverage
	saltSync
	saltActive
	saltLicensed
	saltServices
	saltIndustry
	saltOrphan
	saltDeprecated
	saltBlock
	saltMalformed
)
