package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/fleetscore/fleetscore"
)

var _ fleetscore.FleetReader = (*Store)(nil)

// Daily returns every tenant's snapshots from..to without controls, ordered
// by tenant ID, then day.
func (s *Store) Daily(ctx context.Context, from, to fleetscore.Day) ([]fleetscore.Score, error) {
	lo, hi := dayBounds(from, to)
	rows, err := s.pool.Query(ctx, `
		SELECT t.guid, s.day, s.current_score, s.max_score, s.active_users, s.licensed_users,
		       s.avg_all_tenants, s.avg_total_seats, s.avg_industry_types
		FROM scores s
		JOIN tenants t ON t.id = s.tenant
		WHERE s.day BETWEEN $1 AND $2
		ORDER BY t.guid, s.day`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("daily scores: %w", err)
	}
	defer rows.Close()
	var out []fleetscore.Score
	for rows.Next() {
		var (
			guid string
			r    scoreRow
		)
		if err := rows.Scan(&guid, &r.day, &r.current, &r.max, &r.active, &r.licensed,
			&r.avgAll, &r.avgSeats, &r.avgIndustry); err != nil {
			return nil, fmt.Errorf("daily scores: %w", err)
		}
		out = append(out, r.score(guid))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("daily scores: %w", err)
	}
	return out, nil
}

// LatestControls returns each tenant's control scores on its latest day, by
// name. Changes are recorded only on stored days, so a control's newest
// change is its state on the tenant's latest day.
func (s *Store) LatestControls(ctx context.Context) (map[string][]fleetscore.ControlScore, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.guid, c.name, tc.category, cc.score
		FROM (
		    SELECT DISTINCT ON (tenant, control) tenant, control, score
		    FROM control_changes
		    ORDER BY tenant, control, day DESC
		) cc
		JOIN tenants t ON t.id = cc.tenant
		JOIN controls c ON c.id = cc.control
		JOIN tenant_controls tc ON tc.tenant = cc.tenant AND tc.control = cc.control
		WHERE cc.score IS NOT NULL
		ORDER BY t.guid, c.name`)
	if err != nil {
		return nil, fmt.Errorf("latest controls: %w", err)
	}
	defer rows.Close()
	out := make(map[string][]fleetscore.ControlScore)
	for rows.Next() {
		var (
			guid string
			c    fleetscore.ControlScore
		)
		if err := rows.Scan(&guid, &c.Name, &c.Category, &c.Score); err != nil {
			return nil, fmt.Errorf("latest controls: %w", err)
		}
		out[guid] = append(out[guid], c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("latest controls: %w", err)
	}
	return out, nil
}

// ProfileSummaries returns every tenant's current profiles by name, without
// the remediation text and threats, each with its latest state update only.
func (s *Store) ProfileSummaries(ctx context.Context) (map[string][]fleetscore.ControlProfile, error) {
	rows, err := s.pool.Query(ctx, `
		SELECT t.guid, c.name, p.title, p.category, p.max_score, p.rank, p.tier, p.user_impact,
		       p.implementation_cost, p.action_type, p.action_url, p.service, p.deprecated,
		       st.state, st.updated_at, st.assigned_to, st.comment, st.updated_by
		FROM profiles p
		JOIN tenants t ON t.id = p.tenant
		JOIN controls c ON c.id = p.control
		LEFT JOIN LATERAL (
		    SELECT state, updated_at, assigned_to, comment, updated_by
		    FROM control_states
		    WHERE tenant = p.tenant AND control = p.control
		    ORDER BY id DESC
		    LIMIT 1
		) st ON true
		WHERE NOT p.removed
		ORDER BY t.guid, c.name`)
	if err != nil {
		return nil, fmt.Errorf("profile summaries: %w", err)
	}
	defer rows.Close()
	out := make(map[string][]fleetscore.ControlProfile)
	for rows.Next() {
		var (
			guid                            string
			p                               fleetscore.ControlProfile
			state, assigned, comment, byWho pgtype.Text
			at                              pgtype.Int8
		)
		if err := rows.Scan(&guid, &p.ID, &p.Title, &p.Category, &p.MaxScore, &p.Rank, &p.Tier, &p.UserImpact,
			&p.ImplementationCost, &p.ActionType, &p.ActionURL, &p.Service, &p.Deprecated,
			&state, &at, &assigned, &comment, &byWho); err != nil {
			return nil, fmt.Errorf("profile summaries: %w", err)
		}
		if state.Valid {
			u := fleetscore.ControlStateUpdate{State: state.String, AssignedTo: assigned.String, Comment: comment.String, UpdatedBy: byWho.String}
			if at.Valid && at.Int64 != 0 {
				u.UpdatedAt = time.Unix(0, at.Int64).UTC()
			}
			p.StateUpdates = []fleetscore.ControlStateUpdate{u}
		}
		out[guid] = append(out[guid], p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("profile summaries: %w", err)
	}
	return out, nil
}
