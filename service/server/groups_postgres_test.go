package server_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	keygatev1 "github.com/keygate/keygate/gen/keygate/v1"
)

// groupFixture is an owner's group holding a property, and a colleague's
// membership of it, made through replica a.
type groupFixture struct {
	groups     keygatev1.GroupServiceClient
	owner      user
	colleague  user
	groupID    string
	propertyID string
}

func newGroupFixture(t testing.TB, a *env) groupFixture {
	t.Helper()
	f := groupFixture{groups: keygatev1.NewGroupServiceClient(a.conn), owner: a.newUser(true), colleague: a.newUser(true)}
	f.propertyID = a.newProperty(f.owner, "Group Hotel")
	g, err := f.groups.CreateGroup(withSession(f.owner.token), &keygatev1.CreateGroupRequest{Group: &keygatev1.GroupInput{Title: ptr("Coast")}})
	if err != nil {
		t.Fatal(err)
	}
	f.groupID = g.GetGroup().GetId()
	if _, err := f.groups.LinkGroupProperty(withSession(f.owner.token), &keygatev1.LinkGroupPropertyRequest{GroupId: f.groupID, PropertyId: f.propertyID}); err != nil {
		t.Fatal(err)
	}
	return f
}

// join adds the colleague to the group and returns the membership's id.
func (f groupFixture) join(t testing.TB) string {
	t.Helper()
	if _, err := f.groups.CreateGroupUser(withSession(f.owner.token), &keygatev1.CreateGroupUserRequest{Invite: &keygatev1.CreateGroupUserRequest_Invite{
		GroupId: f.groupID, UserEmail: f.colleague.email, Role: "user",
	}}); err != nil {
		t.Fatal(err)
	}
	members, err := f.groups.ListGroupUsers(withSession(f.owner.token), &keygatev1.ListGroupUsersRequest{
		Filter: &keygatev1.ListGroupUsersRequest_Filter{GroupId: f.groupID}, Pagination: &keygatev1.Pagination{Limit: 100},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members.GetGroupUsers() {
		if m.GetUserId() == f.colleague.id {
			return m.GetId()
		}
	}
	t.Fatal("the colleague is not a member after the invitation")
	return ""
}

func ptr[T any](v T) *T { return &v }

// TestGroupChangesTwoReplicasPostgres: removing a group user, or taking a
// property out of a group, through replica A narrows the colleague's key
// on replica B, which had the key and the access cached.
func TestGroupChangesTwoReplicasPostgres(t *testing.T) {
	url := migratedDatabase(t)
	a, b := start(t, openStore(t, url)), start(t, openStore(t, url))
	f := newGroupFixture(t, a)
	membership := f.join(t)
	key := withKey(a.newKey(f.colleague, f.propertyID).GetApiKey())
	get := &keygatev1.GetPropertyRequest{Id: f.propertyID}
	if _, err := b.props.GetProperty(key, get); err != nil {
		t.Fatalf("the colleague's key on B: %v", err)
	}
	within := func(what string, want codes.Code) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			_, err := b.props.GetProperty(key, get)
			if status.Code(err) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: B still answers %v after 1s, want %v", what, err, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := f.groups.RemoveGroupUser(withSession(f.owner.token), &keygatev1.RemoveGroupUserRequest{Id: membership}); err != nil {
		t.Fatal(err)
	}
	within("group user removal", codes.NotFound)
	f.join(t)
	within("joining again", codes.OK)
	other, err := f.groups.CreateGroup(withSession(f.owner.token), &keygatev1.CreateGroupRequest{Group: &keygatev1.GroupInput{Title: ptr("Other")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.groups.LinkGroupProperty(withSession(f.owner.token), &keygatev1.LinkGroupPropertyRequest{GroupId: other.GetGroup().GetId(), PropertyId: f.propertyID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.groups.UnlinkGroupProperty(withSession(f.owner.token), &keygatev1.UnlinkGroupPropertyRequest{GroupId: f.groupID, PropertyId: f.propertyID}); err != nil {
		t.Fatal(err)
	}
	within("unlinking the property", codes.NotFound)
}

// BenchmarkGroupRemovalPropagation measures how long a colleague's key
// keeps reaching a group's property on replica B after the colleague is
// removed from the group through replica A (B learns of it through
// LISTEN/NOTIFY), as BenchmarkRevocationPropagation does for revocations.
//
// Each trial adds the colleague to the group on A, uses the colleague's
// key on B until B answers from its cache (no key lookup and no access
// check reach B's store), removes the membership on A with
// RemoveGroupUser, then calls GetProperty on B in a tight loop until B
// refuses it. The time from RemoveGroupUser returning to B's first
// refusal is one sample. Reported as for revocations.
func BenchmarkGroupRemovalPropagation(b *testing.B) {
	url := migratedDatabase(b)
	bStore, bCount := counting(openStore(b, url))
	ra, rb := start(b, openStore(b, url)), start(b, bStore)
	f := newGroupFixture(b, ra)
	key := withKey(ra.newKey(f.colleague).GetApiKey())
	get := &keygatev1.GetPropertyRequest{Id: f.propertyID}

	var took []time.Duration
	refusedAtOnce := 0
	trial := func() {
		membership := f.join(b)
		deadline := time.Now().Add(5 * time.Second)
		for {
			n, r := bCount.authentications.Load(), bCount.roleLookups.Load()
			_, err := rb.props.GetProperty(key, get)
			if err == nil && bCount.authentications.Load() == n && bCount.roleLookups.Load() == r {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("B did not answer from its cache within 5s: %v", err)
			}
		}
		if _, err := f.groups.RemoveGroupUser(withSession(f.owner.token), &keygatev1.RemoveGroupUserRequest{Id: membership}); err != nil {
			b.Fatal(err)
		}
		removed := time.Now()
		for polls := 1; ; polls++ {
			_, err := rb.props.GetProperty(key, get)
			switch status.Code(err) {
			case codes.OK:
			case codes.NotFound:
				took = append(took, time.Since(removed))
				if polls == 1 {
					refusedAtOnce++
				}
				return
			default:
				b.Fatalf("B after the removal: %v", err)
			}
			if time.Since(removed) > 10*time.Second {
				b.Fatal("B still reaches the property 10s after the removal")
			}
		}
	}
	for b.Loop() {
		trial()
	}
	for len(took) < 100 {
		trial()
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(nearestRank(took, 50)), "p50-ms")
	b.ReportMetric(ms(nearestRank(took, 99)), "p99-ms")
	b.ReportMetric(ms(nearestRank(took, 100)), "max-ms")
	b.ReportMetric(float64(len(took)), "trials")
	b.ReportMetric(float64(refusedAtOnce)/float64(len(took)), "refused-1st-poll")
}
