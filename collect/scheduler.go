package collect

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Schedule says when collections run: once a day at a UTC time, or every
// interval.
type Schedule struct {
	Daily    bool
	At       time.Duration // since midnight UTC, when Daily
	Interval time.Duration // when not Daily
}

// ParseSchedule reads "daily HH:MM" (UTC) or "every <Go duration>".
func ParseSchedule(s string) (Schedule, error) {
	f := strings.Fields(s)
	switch {
	case len(f) == 2 && f[0] == "daily":
		h, m, ok := strings.Cut(f[1], ":")
		hh, err1 := strconv.Atoi(h)
		mm, err2 := strconv.Atoi(m)
		if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
			return Schedule{}, fmt.Errorf("schedule %q: the time must be HH:MM (UTC)", s)
		}
		return Schedule{Daily: true, At: time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute}, nil
	case len(f) == 2 && f[0] == "every":
		d, err := time.ParseDuration(f[1])
		if err != nil || d < time.Minute {
			return Schedule{}, fmt.Errorf("schedule %q: every needs a duration of at least 1m, e.g. every 6h", s)
		}
		return Schedule{Interval: d}, nil
	}
	return Schedule{}, fmt.Errorf("schedule %q: write daily HH:MM or every <duration>", s)
}

// Next is the first run time strictly after t.
func (s Schedule) Next(t time.Time) time.Time {
	t = t.UTC()
	if !s.Daily {
		return t.Add(s.Interval)
	}
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	next := day.Add(s.At)
	if !next.After(t) {
		next = day.AddDate(0, 0, 1).Add(s.At)
	}
	return next
}

// Status is what a Runner is doing, for the pages' progress bar.
type Status struct {
	Running  bool      `json:"running"`
	Started  time.Time `json:"started,omitzero"`
	Done     int       `json:"done"`  // tenants finished in the current (or last) run
	Total    int       `json:"total"` // tenants in it
	Failed   int       `json:"failed"`
	LastEnd  time.Time `json:"last_end,omitzero"`
	NextRun  time.Time `json:"next_run,omitzero"`
	LastNote string    `json:"last_note,omitempty"` // "23 of 25 tenants collected, 2 failed"
}

// Runner runs collections on a schedule and on demand, one at a time.
type Runner struct {
	Collector *Collector
	Jobs      func() []Job
	Schedule  Schedule
	Now       func() time.Time
	// After is called after each run (alerts, archive); may be nil.
	After func(ctx context.Context, s Summary)

	mu     sync.Mutex
	status Status
	kick   chan struct{}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Status returns a copy of the current status.
func (r *Runner) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status
}

// CollectNow asks for a run now; false when one is already running.
func (r *Runner) CollectNow() bool {
	r.mu.Lock()
	running := r.status.Running
	kick := r.kick
	r.mu.Unlock()
	if running || kick == nil {
		return false
	}
	select {
	case kick <- struct{}{}:
		return true
	default:
		return false // a run is already queued
	}
}

// Loop runs collections at each scheduled time and on CollectNow, until ctx
// ends. When runFirst, it collects at once (the first start backfills).
func (r *Runner) Loop(ctx context.Context, runFirst bool) {
	r.mu.Lock()
	r.kick = make(chan struct{}, 1)
	r.mu.Unlock()
	if runFirst {
		r.RunOnce(ctx)
	}
	for {
		next := r.Schedule.Next(r.now())
		r.mu.Lock()
		r.status.NextRun = next
		r.mu.Unlock()
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-r.kick:
			t.Stop()
		}
		r.RunOnce(ctx)
	}
}

// RunOnce runs one collection of every job now.
func (r *Runner) RunOnce(ctx context.Context) Summary {
	jobs := r.Jobs()
	r.mu.Lock()
	r.status.Running, r.status.Started = true, r.now()
	r.status.Done, r.status.Total, r.status.Failed = 0, len(jobs), 0
	r.mu.Unlock()

	c := *r.Collector
	progress := c.Progress
	c.Progress = func(res Result) {
		r.mu.Lock()
		r.status.Done++
		if res.Err != nil {
			r.status.Failed++
		}
		r.mu.Unlock()
		if progress != nil {
			progress(res)
		}
	}
	sum := c.Run(ctx, jobs)
	r.mu.Lock()
	r.status.Running = false
	r.status.LastEnd = r.now()
	r.status.LastNote = fmt.Sprintf("%d of %d tenants collected, %d failed", sum.OK, len(jobs), sum.Failed)
	r.mu.Unlock()
	if r.After != nil {
		r.After(ctx, sum)
	}
	return sum
}
