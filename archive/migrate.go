package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fleetscore/fleetscore"
)

// TenantRef is a configured tenant as Migrate and LegacyCollisions see it.
type TenantRef struct {
	ID   string // a GUID, any case
	Name string // the display name, as the config has it
}

// Move is one day of the legacy layout and where it belongs.
type Move struct {
	Tenant TenantRef // ID in CanonicalID's form
	Day    fleetscore.Day
	From   string // LegacyBlobName
	To     string // BlobName
}

// Collision is a legacy folder that two or more configured tenants' names
// map to: its days cannot be told apart by their place, so Migrate leaves it.
type Collision struct {
	Folder  string      // SafeName of the names
	Tenants []TenantRef // in config order, IDs in CanonicalID's form
	Days    int         // day files in it; 0 from LegacyCollisions, which looks at no archive
}

// Report is what a Migrate did and what it left.
type Report struct {
	// Moved are the days now in the new layout only: moved, or found there
	// byte for byte already (a migration cut short), the old copy removed.
	Moved []Move
	// Kept are the days left at From because To already holds a different
	// snapshot of the day; the new one wins and neither is changed.
	Kept []Move
	// Unmigrated are the legacy folders several tenants map to, left as
	// they are.
	Unmigrated []Collision
}

// Warnings says what needs a person, one message per Kept day and per
// Unmigrated folder, each with the fix.
func (r Report) Warnings() []string {
	var out []string
	for _, k := range r.Kept {
		out = append(out, fmt.Sprintf("archive: %s of tenant %q (%s) was left in place: %s already holds a different snapshot of that day, which is kept; compare the two and delete %s, or move it over %s if it is the right one",
			k.From, k.Tenant.Name, k.Tenant.ID, k.To, k.From, k.To))
	}
	for _, c := range r.Unmigrated {
		out = append(out, c.warning())
	}
	return out
}

func (c Collision) warning() string {
	var names, dests []string
	for _, t := range c.Tenants {
		names = append(names, fmt.Sprintf("%q (%s)", t.Name, t.ID))
		dests = append(dests, t.ID+"/")
	}
	files := "its files"
	switch {
	case c.Days == 1:
		files = "its 1 day file"
	case c.Days > 1:
		files = fmt.Sprintf("its %d day files", c.Days)
	}
	return fmt.Sprintf("archive: folder %q of the old name-keyed layout belongs to tenants %s alike, so %s cannot be attributed automatically and are left there; "+
		"move each {date}.json by hand into %s according to the azureTenantId inside it (a day both tenants wrote holds only the last one's snapshot), then delete the folder",
		c.Folder, strings.Join(names, " and "), files, strings.Join(dests, " or "))
}

// migrator is what Migrate needs of an archive's kind.
type migrator interface {
	// folders lists the archive's top-level folder names.
	folders(ctx context.Context) ([]string, error)
	// legacyDays lists the days with a file directly in folder.
	legacyDays(ctx context.Context, folder string) ([]fleetscore.Day, error)
	// moveDay moves folder/{day}.json to BlobName(t.ID, day) unless a file is
	// there already; moved is false when that file differs and both are
	// kept. It never leaves the day in neither place.
	moveDay(ctx context.Context, folder string, t TenantRef, day fleetscore.Day) (moved bool, err error)
	// finish is called after a folder's days moved: it records the
	// tenant's name and drops the old folder if it is empty.
	finish(ctx context.Context, folder string, t TenantRef) error
}

var (
	_ migrator = (*Dir)(nil)
	_ migrator = (*Container)(nil)
)

// Migrate moves the days earlier versions kept at LegacyBlobName (a folder
// named after the tenant) to BlobName (a folder named by its ID), for the
// tenants given: the configured ones, whose names say which old folder is
// whose. A folder of the old layout that two of these tenants map to
// ("Contoso Ltd." and "Contoso Ltd" both wrote "Contoso Ltd/") is left as it
// is and reported: its days could be either tenant's. A day the new layout
// already has is left too, unless the two are the same bytes.
//
// It is idempotent: once a folder is moved there is nothing left to move.
// It is crash-safe: a day is first in its new place and then removed from
// the old one, so a crash leaves it in one place or both, and the next run
// finishes it. Folders of tenants not given (removed from the config, or
// renamed before the upgrade) are not touched.
//
// A failure for one tenant does not stop the others: the report holds what
// was done and the error is an *Error (or several joined) with Op "migrate".
func Migrate(ctx context.Context, arc Archiver, tenants []TenantRef) (Report, error) {
	var r Report
	m, ok := arc.(migrator)
	if !ok {
		return r, &Error{Op: "migrate", Msg: fmt.Sprintf("an archive of type %T cannot be migrated", arc)}
	}
	refs, err := canonicalRefs(tenants)
	if err != nil {
		return r, err
	}
	legacy, unmigrated, err := scan(ctx, m, refs)
	r.Unmigrated = unmigrated
	errs := []error{err}
	for _, f := range legacy {
		t := f.tenant
		for _, d := range f.days {
			mv := Move{Tenant: t, Day: d, From: LegacyBlobName(t.Name, d), To: BlobName(t.ID, d)}
			moved, err := m.moveDay(ctx, f.folder, t, d)
			switch {
			case err != nil:
				errs = append(errs, err)
			case moved:
				r.Moved = append(r.Moved, mv)
			default:
				r.Kept = append(r.Kept, mv)
			}
		}
		if err := m.finish(ctx, f.folder, t); err != nil {
			errs = append(errs, err)
		}
	}
	return r, errors.Join(errs...)
}

// Unmigratable are the folders of the old layout in arc that two or more
// of the tenants map to and that hold days: what Migrate leaves and
// reports. It changes nothing, for `check`.
func Unmigratable(ctx context.Context, arc Archiver, tenants []TenantRef) ([]Collision, error) {
	m, ok := arc.(migrator)
	if !ok {
		return nil, &Error{Op: "migrate", Msg: fmt.Sprintf("an archive of type %T cannot be migrated", arc)}
	}
	refs, err := canonicalRefs(tenants)
	if err != nil {
		return nil, err
	}
	_, unmigrated, err := scan(ctx, m, refs)
	return unmigrated, err
}

// legacyFolder is a folder of the old layout that is one tenant's alone.
type legacyFolder struct {
	folder string
	tenant TenantRef
	days   []fleetscore.Day
}

// scan finds the old-layout folders of the tenants that hold days: those
// of one tenant, to move, and those several tenants map to, to leave.
func scan(ctx context.Context, m migrator, refs []TenantRef) ([]legacyFolder, []Collision, error) {
	present, err := m.folders(ctx)
	if err != nil {
		return nil, nil, err
	}
	shared := collisions(refs)
	reported := map[string]bool{}
	var (
		legacy     []legacyFolder
		unmigrated []Collision
		errs       []error
	)
	for _, t := range refs {
		folder := SafeName(t.Name)
		if !slices.Contains(present, folder) {
			continue
		}
		if _, isID := CanonicalID(folder); isID {
			continue // a folder of the new layout, whatever the name says
		}
		days, err := m.legacyDays(ctx, folder)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(days) == 0 {
			continue
		}
		if c, ok := shared[foldKey(t.Name)]; ok {
			if !reported[folder] {
				reported[folder] = true
				c.Folder, c.Days = folder, len(days)
				unmigrated = append(unmigrated, c)
			}
			continue
		}
		legacy = append(legacy, legacyFolder{folder: folder, tenant: t, days: days})
	}
	return legacy, unmigrated, errors.Join(errs...)
}

// LegacyCollisions are the old-layout folders that two or more of the
// tenants map to, judged from the names alone: a check to run before
// Migrate, which leaves such folders where they are. Days is 0.
func LegacyCollisions(tenants []TenantRef) ([]Collision, error) {
	refs, err := canonicalRefs(tenants)
	if err != nil {
		return nil, err
	}
	shared := collisions(refs)
	var out []Collision
	for _, t := range refs {
		if c, ok := shared[foldKey(t.Name)]; ok && c.Tenants[0].ID == t.ID {
			c.Folder = SafeName(t.Name)
			out = append(out, c)
		}
	}
	return out, nil
}

// foldKey groups names whose legacy folders are one folder, or would be on
// a case-insensitive file system (Windows, macOS): it errs on the side of
// leaving a folder alone.
func foldKey(name string) string { return strings.ToLower(SafeName(name)) }

// collisions maps the foldKey of every name shared by tenants of different
// IDs to those tenants.
func collisions(refs []TenantRef) map[string]Collision {
	byKey := map[string][]TenantRef{}
	for _, t := range refs {
		k := foldKey(t.Name)
		byKey[k] = append(byKey[k], t)
	}
	out := map[string]Collision{}
	for k, ts := range byKey {
		if len(ts) > 1 {
			out[k] = Collision{Tenants: ts}
		}
	}
	return out
}

// canonicalRefs puts the IDs in CanonicalID's form and drops repeats of an
// ID (the first name wins).
func canonicalRefs(tenants []TenantRef) ([]TenantRef, error) {
	var out []TenantRef
	seen := map[string]bool{}
	for _, t := range tenants {
		id, ok := CanonicalID(t.ID)
		if !ok {
			return nil, &Error{Op: "migrate", TenantID: t.ID, TenantName: t.Name,
				Msg: fmt.Sprintf("tenant ID %q is not a GUID; give the tenant's Directory (tenant) ID", t.ID)}
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		out = append(out, TenantRef{ID: id, Name: t.Name})
	}
	return out, nil
}

// parseDayFile is the day of a "YYYY-MM-DD.json" file name.
func parseDayFile(name string) (fleetscore.Day, bool) {
	s, ok := strings.CutSuffix(name, ".json")
	if !ok || len(s) != len(fleetscore.DayLayout) {
		return fleetscore.Day{}, false
	}
	d, err := fleetscore.ParseDay(s)
	if err != nil || d.String() != s {
		return fleetscore.Day{}, false
	}
	return d, true
}
