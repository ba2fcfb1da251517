package locate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/sipxfer/sipxfer/dnsmsg"
	"github.com/sipxfer/sipxfer/transport"
)

// Cache defaults.
const (
	// DefaultCacheEntries bounds the names and types a Cache holds when
	// CacheConfig.MaxEntries is zero: a few hundred domains' worth of
	// NAPTR, SRV and address answers.
	DefaultCacheEntries = 1024
	// DefaultNegativeTTL is how long a Cache keeps an NXDOMAIN or NODATA
	// answer that carried no SOA record.
	DefaultNegativeTTL = 30 * time.Second
	// DefaultMaxNegativeTTL caps the SOA-derived negative TTL, so a
	// record added soon after a failed lookup is seen soon.
	DefaultMaxNegativeTTL = 5 * time.Minute
	// DefaultMaxTTL caps the TTL of positive answers.
	DefaultMaxTTL = time.Hour
)

// CacheConfig configures a Cache; zero fields take the defaults above.
type CacheConfig struct {
	MaxEntries     int
	NegativeTTL    time.Duration
	MaxNegativeTTL time.Duration
	MaxTTL         time.Duration
}

// Cache is a Resolver that answers from memory what another Resolver
// answered before, for as long as the records' TTLs allow (the least TTL
// of the set, an SRV record's additional addresses included), and
// remembers NXDOMAIN and NODATA for the negative TTL of RFC 2308 §5
// (DefaultNegativeTTL without an SOA). Other errors (SERVFAIL, timeouts)
// are not kept. Entries are keyed by name, without regard to case, and
// kind: NAPTR, SRV, or address (A and AAAA together). When full it drops
// expired entries, then the one closest to expiry. Time comes from the
// Clock. A Cache is safe for concurrent use; two callers missing the same
// entry at once both ask the Resolver.
type Cache struct {
	r     Resolver
	clock transport.Clock
	cfg   CacheConfig

	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
}

type cacheKey struct {
	name string // lower case, fully qualified
	kind dnsmsg.Type
}

type cacheEntry struct {
	value   any // []NAPTR, []SRV or []IP
	err     error
	expires time.Time
}

// NewCache returns a Cache in front of r.
func NewCache(r Resolver, clock transport.Clock, cfg CacheConfig) *Cache {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultCacheEntries
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.MaxNegativeTTL <= 0 {
		cfg.MaxNegativeTTL = DefaultMaxNegativeTTL
	}
	if cfg.MaxTTL <= 0 {
		cfg.MaxTTL = DefaultMaxTTL
	}
	return &Cache{r: r, clock: clock, cfg: cfg, entries: make(map[cacheKey]cacheEntry)}
}

// Len returns the number of entries held, expired ones included until
// they are dropped.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// LookupNAPTR implements Resolver.
func (c *Cache) LookupNAPTR(ctx context.Context, name string) ([]NAPTR, error) {
	return cached(c, ctx, name, dnsmsg.TypeNAPTR, c.r.LookupNAPTR, func(v []NAPTR) uint32 {
		return minTTL(v, func(r NAPTR) uint32 { return r.TTL })
	})
}

// LookupSRV implements Resolver.
func (c *Cache) LookupSRV(ctx context.Context, name string) ([]SRV, error) {
	return cached(c, ctx, name, dnsmsg.TypeSRV, c.r.LookupSRV, func(v []SRV) uint32 {
		return minTTL(v, func(r SRV) uint32 {
			return min(r.TTL, minTTL(r.Addrs, func(a IP) uint32 { return a.TTL }))
		})
	})
}

// LookupAddr implements Resolver.
func (c *Cache) LookupAddr(ctx context.Context, host string) ([]IP, error) {
	return cached(c, ctx, host, dnsmsg.TypeA, c.r.LookupAddr, func(v []IP) uint32 {
		return minTTL(v, func(a IP) uint32 { return a.TTL })
	})
}

func minTTL[T any](v []T, ttl func(T) uint32) uint32 {
	m := uint32(1<<32 - 1)
	for _, r := range v {
		m = min(m, ttl(r))
	}
	return m
}

// cached answers from the cache or asks lookup and keeps its answer.
func cached[T any](c *Cache, ctx context.Context, name string, kind dnsmsg.Type,
	lookup func(context.Context, string) ([]T, error), ttl func([]T) uint32) ([]T, error) {
	key := cacheKey{name: strings.ToLower(dnsmsg.Fqdn(name)), kind: kind}
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.entries[key]
	if ok && now.Before(e.expires) {
		c.mu.Unlock()
		if e.err != nil {
			return nil, e.err
		}
		return e.value.([]T), nil
	}
	if ok {
		delete(c.entries, key)
	}
	c.mu.Unlock()

	v, err := lookup(ctx, name)
	if err == nil && len(v) == 0 {
		err = &DNSError{Name: name, Type: kind, Err: ErrNoData}
	}
	var life time.Duration
	switch {
	case err == nil:
		life = min(time.Duration(ttl(v))*time.Second, c.cfg.MaxTTL)
	case notFound(err):
		life = c.cfg.NegativeTTL
		var de *DNSError
		if errors.As(err, &de) && de.SOA {
			life = de.NegativeTTL
		}
		life = min(life, c.cfg.MaxNegativeTTL)
	}
	if life > 0 {
		c.store(key, cacheEntry{value: v, err: err, expires: c.clock.Now().Add(life)})
	}
	return v, err
}

// store adds an entry, making room if the cache is full.
func (c *Cache) store(key cacheKey, e cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.cfg.MaxEntries {
		now := c.clock.Now()
		var victim cacheKey
		var soonest time.Time
		for k, old := range c.entries {
			if !now.Before(old.expires) {
				delete(c.entries, k)
				continue
			}
			if soonest.IsZero() || old.expires.Before(soonest) {
				victim, soonest = k, old.expires
			}
		}
		if len(c.entries) >= c.cfg.MaxEntries {
			delete(c.entries, victim)
		}
	}
	c.entries[key] = e
}
