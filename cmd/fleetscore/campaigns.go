package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/fleetscore/fleetscore"
	"github.com/fleetscore/fleetscore/campaign"
	"github.com/fleetscore/fleetscore/server"
)

// campaignService is the store's campaigns, their statuses derived as of
// now's day (nil: the wall clock).
func campaignService(store fleetscore.Store, now func() time.Time) (*campaign.Service, error) {
	cs, ok := store.(campaign.Store)
	if !ok {
		return nil, fmt.Errorf("the database keeps no campaigns")
	}
	return &campaign.Service{Store: cs, Now: now}, nil
}

// campaignBookFor is the campaigns the server offers; nil when the store
// keeps none.
func campaignBookFor(store fleetscore.Store, now func() time.Time) server.CampaignBook {
	svc, err := campaignService(store, now)
	if err != nil {
		return nil
	}
	return svc
}

func cmdCampaigns(ctx context.Context, e env, args []string) error {
	return subcommand(e, "campaigns", "list", args, map[string]func([]string) error{
		"list": func(a []string) error { return cmdCampaignsList(ctx, e, a) },
	}, "  list [--json]   list the campaigns with their progress as of today\n")
}

func cmdCampaignsList(ctx context.Context, e env, args []string) error {
	fs := newFlags(e, "campaigns list", "[--json] [--config PATH]")
	cfgPath := configFlag(fs, e)
	asJSON := fs.Bool("json", false, "print the campaigns as JSON (the API's campaign objects)")
	if done, err := parse(fs, args); done {
		return err
	}
	cfg, err := loadConfig(e, *cfgPath, 0)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, cfg.Database)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := campaignService(store, nil)
	if err != nil {
		return err
	}
	out, err := svc.List(ctx, nil)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e, out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCONTROL\tOWNER\tDUE\tDONE\tPOINTS GAINED\tOVERDUE")
	for _, p := range out {
		overdue := ""
		if p.Overdue {
			overdue = "overdue"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d of %d\t%.2f\t%s\n", p.ID, p.Control, p.Owner, p.Due, p.Done, p.Total, p.PointsGained, overdue)
	}
	return tw.Flush()
}
