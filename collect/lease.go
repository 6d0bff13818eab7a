package collect

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/fleetscore/fleetscore"
)

// lease is this instance's claim of one tenant's day while it collects it.
type lease struct {
	claims Claimer
	tenant string
	day    fleetscore.Day
	owner  string
	ttl    time.Duration
	log    *slog.Logger
}

// renew extends the claim by ttl from now; errLeaseLost when another
// instance has taken it.
func (l *lease) renew(ctx context.Context) error {
	ok, err := l.claims.Claim(ctx, l.tenant, l.day, l.owner, l.ttl)
	if err != nil {
		return err
	}
	if !ok {
		return errLeaseLost
	}
	return nil
}

// hold renews the claim every third of its ttl until stop is called. When
// the claim is lost, or cannot be renewed (the database is unreachable)
// until it would have expired, the returned context is cancelled with
// errLeaseLost as its cause: the tenant's work stops, and its unfinished
// batch is not written, since another instance may now have the tenant.
func (l *lease) hold(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stopped := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(l.ttl / 3)
		defer tick.Stop()
		renewed := time.Now()
		for {
			select {
			case <-stopped:
				return
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			err := l.renew(ctx)
			switch {
			case err == nil:
				renewed = time.Now()
			case errors.Is(err, errLeaseLost):
				l.log.Warn("claim lost: another instance took the tenant over", "day", l.day)
				cancel(errLeaseLost)
				return
			case ctx.Err() != nil:
				return
			default:
				l.log.Warn("renew claim", "day", l.day, "err", err)
				if time.Since(renewed) >= l.ttl {
					cancel(errLeaseLost)
					return
				}
			}
		}
	}()
	return ctx, func() {
		close(stopped)
		<-finished
		cancel(nil)
	}
}
