// Issue 11: leader election on a Lease, client-go's rules, in virtual time: one leader, takeover
// within lease + renew deadline after the leader dies, never two leaders at once (also when the
// leader is cut off), 409 on a stale resourceVersion loses the round, wall-clock skew is harmless.
#include "daemon/leader_election.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace kcd::daemon {
namespace {

using namespace std::chrono_literals;

// The API server's Lease: create fails when it exists, update fails on a stale resourceVersion.
struct LeaseStore {
  std::optional<LeaseRecord> lease;
  int version = 0;
  bool create(LeaseRecord r) {
    if (lease) return false;  // 409 AlreadyExists
    r.resource_version = std::to_string(++version);
    lease = r;
    return true;
  }
  bool update(LeaseRecord r) {
    if (!lease || lease->resource_version != r.resource_version) return false;  // 409 Conflict
    r.resource_version = std::to_string(++version);
    lease = r;
    return true;
  }
};

struct Replica {
  explicit Replica(std::string id, std::chrono::seconds skew = 0s)
      : elector(std::move(id)), wall_skew(skew) {}
  LeaderElector elector;
  std::chrono::seconds wall_skew;
  bool alive = true;
  bool cut_off = false;  // its requests fail
  MonoTime next{};
};

class Election : public ::testing::Test {
 protected:
  Election() {
    replicas_.push_back(std::make_unique<Replica>("cp-1"));
    replicas_.push_back(std::make_unique<Replica>("cp-2", 3600s));  // its wall clock is an hour ahead
    replicas_.push_back(std::make_unique<Replica>("cp-3", -600s));
  }

  // One round for `r` at the current time: read, then write what it decides.
  void round(Replica& r) {
    if (!r.alive || mono_ < r.next) return;
    r.next = r.elector.next_attempt(mono_);
    if (r.cut_off) {
      r.elector.write_failed(mono_);
      return;
    }
    const WallTime wall = wall_ + r.wall_skew;
    auto a = r.elector.observe(store_.lease, wall, mono_);
    bool ok = false;
    if (a.op == LeaderElector::Op::Create) ok = store_.create(a.record);
    if (a.op == LeaderElector::Op::Update) ok = store_.update(a.record);
    if (a.op == LeaderElector::Op::None) return;
    if (ok) {
      r.elector.written(*store_.lease, mono_);
    } else {
      r.elector.write_failed(mono_);
    }
  }

  // Runs every replica in 100 ms steps for `span`, checking that at most one leads at any moment.
  void run(std::chrono::milliseconds span) {
    for (auto end = mono_ + span; mono_ < end; mono_ += 100ms, wall_ += 100ms) {
      for (auto& r : replicas_) round(*r);
      int leaders = 0;
      for (auto& r : replicas_) leaders += r->alive && r->elector.leading(mono_) ? 1 : 0;
      ASSERT_LE(leaders, 1) << "two leaders at once";
    }
  }

  int leader() const {
    for (std::size_t i = 0; i < replicas_.size(); ++i)
      if (replicas_[i]->alive && replicas_[i]->elector.leading(mono_)) return static_cast<int>(i);
    return -1;
  }

  LeaseStore store_;
  std::vector<std::unique_ptr<Replica>> replicas_;
  MonoTime mono_ = MonoTime{} + 1000h;
  WallTime wall_ = WallTime{} + 500000h;
};

TEST_F(Election, OneLeaderThatKeepsItsLease) {
  run(1s);
  const int first = leader();
  ASSERT_GE(first, 0);
  EXPECT_EQ(store_.lease->holder, replicas_[first]->elector.identity());
  EXPECT_EQ(store_.lease->lease_duration_seconds, 15);
  run(120s);
  EXPECT_EQ(leader(), first) << "a renewing leader is never taken over";
  EXPECT_EQ(store_.lease->transitions, 0);
  EXPECT_GE(store_.version, 55) << "renewed every 2 s";
}

TEST_F(Election, ANewLeaderWithinLeasePlusRenewDeadlineWhenTheLeaderDies) {
  run(5s);
  const int first = leader();
  ASSERT_GE(first, 0);
  replicas_[first]->alive = false;
  const MonoTime died = mono_;
  while (leader() < 0 && mono_ - died < 60s) run(100ms);
  ASSERT_GE(leader(), 0);
  EXPECT_NE(leader(), first);
  EXPECT_LE(mono_ - died, 25s) << "lease 15 s + renew deadline 10 s";
  EXPECT_GE(mono_ - died, 13s) << "not before the lease could have run out";
  EXPECT_EQ(store_.lease->transitions, 1);
}

TEST_F(Election, ALeaderCutOffStopsBeforeAnyoneTakesOver) {
  run(5s);
  const int first = leader();
  ASSERT_GE(first, 0);
  replicas_[first]->cut_off = true;
  const MonoTime cut = mono_;
  while (replicas_[first]->elector.leading(mono_)) run(100ms);
  EXPECT_LE(mono_ - cut, 10s) << "renew deadline";
  run(30s);  // run() asserts there were never two leaders
  EXPECT_GE(leader(), 0);
  EXPECT_NE(leader(), first);
  replicas_[first]->cut_off = false;
  run(10s);
  EXPECT_FALSE(replicas_[first]->elector.leading(mono_)) << "comes back as a follower";
}

TEST(LeaderElectorRules, AStaleWriteLosesTheRound) {
  LeaderElector a("a"), b("b");
  const MonoTime t = MonoTime{} + 1h;
  const WallTime w = WallTime{} + 1000h;
  LeaseRecord expired{"gone", 15, w, w, 4, "7"};
  // A record first seen is alive, however old its renewTime: expiry is measured on our clock.
  EXPECT_EQ(a.observe(expired, w + 9999h, t).op, LeaderElector::Op::None);
  EXPECT_EQ(b.observe(expired, w, t).op, LeaderElector::Op::None);
  auto wa = a.observe(expired, w + 16s, t + 16s);
  auto wb = b.observe(expired, w + 16s, t + 16s);
  ASSERT_EQ(wa.op, LeaderElector::Op::Update);
  ASSERT_EQ(wb.op, LeaderElector::Op::Update);
  EXPECT_EQ(wa.record.resource_version, "7");
  EXPECT_EQ(wa.record.transitions, 5);
  LeaseRecord accepted = wa.record;
  accepted.resource_version = "8";
  a.written(accepted, t + 16s);
  b.write_failed(t + 16s);  // the server said 409 to b
  EXPECT_TRUE(a.leading(t + 16s));
  EXPECT_FALSE(b.leading(t + 16s));
  EXPECT_EQ(b.observe(accepted, w + 18s, t + 18s).op, LeaderElector::Op::None);
}

TEST(LeaderElectorRules, AnEmptyHolderIsFreeAndOurOwnLeaseKeepsItsAcquireTime) {
  LeaderElector a("a");
  const MonoTime t = MonoTime{} + 1h;
  const WallTime w = WallTime{} + 1000h;
  EXPECT_EQ(a.observe(LeaseRecord{"", 15, w, w, 2, "3"}, w, t).op, LeaderElector::Op::Update);
  const LeaseRecord mine{"a", 15, w - 100s, w - 2s, 2, "4"};
  auto renew = a.observe(mine, w, t);
  ASSERT_EQ(renew.op, LeaderElector::Op::Update);
  EXPECT_EQ(renew.record.acquire_time, w - 100s);
  EXPECT_EQ(renew.record.transitions, 2);
  EXPECT_EQ(renew.record.renew_time, w);
}

}  // namespace
}  // namespace kcd::daemon
