package relational

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/exceptions"
)

// Campaigns (migration 0009): campaign.Register.

var (
	_ campaign.Register = (*Store)(nil)
	_ campaign.Store    = (*Store)(nil)
)

// PutCampaign adds a campaign and its tenants in one transaction.
func (s *Store) PutCampaign(ctx context.Context, c campaign.Campaign) (campaign.Campaign, error) {
	err := s.write(ctx, func(t *tx) error {
		err := t.row(ctx, `
			INSERT INTO campaigns (control, owner, due, created_by, created_at)
			VALUES (?, ?, ?, ?, ?)
			RETURNING id`,
			c.Control, c.Owner, c.Due.Unix(), c.CreatedBy, c.CreatedAt.UnixNano()).Scan(&c.ID)
		if err != nil {
			return err
		}
		for i, m := range c.Tenants {
			if _, err := t.exec(ctx, `
				INSERT INTO campaign_tenants (campaign, position, tenant, note) VALUES (?, ?, ?, ?)`,
				c.ID, i, m.TenantID, m.Note); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return c, fmt.Errorf("save campaign of %s: %w", c.Control, err)
	}
	return c, nil
}

// Campaign returns the campaign id with its tenants.
func (s *Store) Campaign(ctx context.Context, id int64) (campaign.Campaign, error) {
	cs, err := s.campaigns(ctx, ` WHERE id = ?`, id)
	if err != nil {
		return campaign.Campaign{}, err
	}
	if len(cs) == 0 {
		return campaign.Campaign{}, fmt.Errorf("campaign %d: %w", id, fleetscore.ErrNotFound)
	}
	return cs[0], nil
}

// Campaigns returns every campaign, oldest first.
func (s *Store) Campaigns(ctx context.Context) ([]campaign.Campaign, error) {
	return s.campaigns(ctx, ``)
}

func (s *Store) campaigns(ctx context.Context, where string, args ...any) ([]campaign.Campaign, error) {
	var out []campaign.Campaign
	err := s.read(ctx, func(q q) error {
		var err error
		out, err = all(ctx, q, func(r *sql.Rows) (campaign.Campaign, error) {
			var (
				c            campaign.Campaign
				due, created int64
			)
			err := r.Scan(&c.ID, &c.Control, &c.Owner, &due, &c.CreatedBy, &created)
			c.Due, c.CreatedAt = fleetscore.DayFromUnix(due), time.Unix(0, created).UTC()
			return c, err
		}, `SELECT id, control, owner, due, created_by, created_at FROM campaigns`+where+` ORDER BY id`, args...)
		if err != nil {
			return err
		}
		type member struct {
			id int64
			m  campaign.Member
		}
		ms, err := all(ctx, q, func(r *sql.Rows) (member, error) {
			var x member
			return x, r.Scan(&x.id, &x.m.TenantID, &x.m.Note)
		}, `SELECT campaign, tenant, note FROM campaign_tenants ORDER BY campaign, position`)
		if err != nil {
			return err
		}
		byID := make(map[int64]int, len(out))
		for i, c := range out {
			byID[c.ID] = i
		}
		for _, x := range ms {
			if i, ok := byID[x.id]; ok {
				out[i].Tenants = append(out[i].Tenants, x.m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	return out, nil
}

// SetCampaignNote replaces one tenant's note in a campaign.
func (s *Store) SetCampaignNote(ctx context.Context, id int64, tenantID, note string) error {
	res, err := s.writer().exec(ctx, `UPDATE campaign_tenants SET note = ? WHERE campaign = ? AND tenant = ?`, note, id, tenantID)
	return affected(res, err, "note of "+tenantID+" in campaign "+strconv.FormatInt(id, 10))
}

// ExceptedSince returns, by tenant ID, the day each exception in force
// (exceptions.Exception.Live) on the control was applied: from then on a
// campaign counts the tenant as excepted.
func (s *Store) ExceptedSince(ctx context.Context, control string) (map[string]fleetscore.Day, error) {
	type row struct {
		tenant  string
		created int64
	}
	rows, err := all(ctx, s.reader(), func(r *sql.Rows) (row, error) {
		var x row
		return x, r.Scan(&x.tenant, &x.created)
	}, `
		SELECT tenant, created_at
		FROM exceptions
		WHERE control = ? AND state <> ? AND status IN (?, ?, ?)`,
		control, fleetscore.StateDefault, exceptions.StatusWritten, exceptions.StatusInEffect, exceptions.StatusLocal)
	if err != nil {
		return nil, fmt.Errorf("exceptions of %s: %w", control, err)
	}
	out := make(map[string]fleetscore.Day, len(rows))
	for _, r := range rows {
		out[r.tenant] = fleetscore.DayOf(time.Unix(0, r.created))
	}
	return out, nil
}
