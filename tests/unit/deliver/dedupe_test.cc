#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>

#include "gateway/deliver/deliver.h"

namespace cg::deliver {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cg-deliver-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class DedupeTest : public ::testing::Test {
 protected:
  void open(std::uint64_t window = 1u << 16) {
    window_.reset();
    env_.reset();
    env_ = *store::Env::open({.path = dir_.path()});
    window_ = std::make_unique<DedupeWindow>(*DedupeWindow::open(*env_, window));
  }
  void SetUp() override { open(); }

  DedupeWindow::Outcome mark(std::uint64_t seq, std::string_view origin = "il-gw-1",
                             std::uint32_t stream = 1) {
    auto txn = env_->begin_write();
    auto out = window_->check_and_mark(*txn, origin, stream, seq);
    EXPECT_TRUE(out.ok());
    EXPECT_TRUE(txn->commit().ok());
    return *out;
  }
  bool fresh(std::uint64_t seq, std::string_view origin = "il-gw-1", std::uint32_t stream = 1) {
    return mark(seq, origin, stream).verdict == DedupeWindow::Verdict::fresh;
  }

  TempDir dir_;
  std::unique_ptr<store::Env> env_;
  std::unique_ptr<DedupeWindow> window_;
};

TEST_F(DedupeTest, FreshOnceThenDuplicate) {
  EXPECT_TRUE(fresh(1));
  EXPECT_FALSE(fresh(1));
  EXPECT_TRUE(fresh(2));
  EXPECT_FALSE(fresh(2));
  EXPECT_FALSE(fresh(0));  // never valid
  EXPECT_EQ(*window_->floor("il-gw-1", 1), 2u);
}

TEST_F(DedupeTest, OutOfOrderArrivalsFillTheFloor) {
  EXPECT_TRUE(fresh(3));
  EXPECT_TRUE(fresh(5));
  EXPECT_EQ(*window_->floor("il-gw-1", 1), 0u);
  auto missing = *window_->missing("il-gw-1", 1);
  ASSERT_EQ(missing.size(), 2u);
  EXPECT_EQ(missing[0].first, 1u);
  EXPECT_EQ(missing[0].last, 2u);
  EXPECT_EQ(missing[1].first, 4u);
  EXPECT_EQ(missing[1].last, 4u);
  EXPECT_TRUE(fresh(1));
  EXPECT_TRUE(fresh(2));
  EXPECT_EQ(*window_->floor("il-gw-1", 1), 3u);
  EXPECT_FALSE(fresh(3));
  EXPECT_TRUE(fresh(4));
  EXPECT_EQ(*window_->floor("il-gw-1", 1), 5u);
  EXPECT_TRUE(window_->missing("il-gw-1", 1)->empty());
}

// With `highest`: the highest seq seen when the listing is complete (gap recovery adds what
// lies beyond it up to the origin's stream head), 0 when the listing was cut.
TEST_F(DedupeTest, MissingSaysTheHighestSeenWhenItListedEverything) {
  std::uint64_t highest = 99;
  EXPECT_TRUE(window_->missing("il-gw-1", 1, 10, &highest)->empty());
  EXPECT_EQ(highest, 0u) << "nothing seen";
  EXPECT_TRUE(fresh(1));
  EXPECT_TRUE(window_->missing("il-gw-1", 1, 10, &highest)->empty());
  EXPECT_EQ(highest, 1u) << "all below the floor";
  EXPECT_TRUE(fresh(3));
  EXPECT_TRUE(fresh(6));
  EXPECT_EQ(window_->missing("il-gw-1", 1, 10, &highest)->size(), 2u);
  EXPECT_EQ(highest, 6u);
  auto cut = *window_->missing("il-gw-1", 1, 1, &highest);
  ASSERT_EQ(cut.size(), 1u) << "the first range only";
  EXPECT_EQ(cut[0].last, 2u);
  EXPECT_EQ(highest, 0u) << "not known: the listing was cut";
}

TEST_F(DedupeTest, StreamsAndOriginsAreIndependent) {
  EXPECT_TRUE(fresh(1, "il-gw-1", 1));
  EXPECT_TRUE(fresh(1, "il-gw-1", 2));
  EXPECT_TRUE(fresh(1, "sy-gw-1", 1));
  EXPECT_FALSE(fresh(1, "il-gw-1", 2));
}

TEST_F(DedupeTest, SurvivesReopen) {
  EXPECT_TRUE(fresh(1));
  EXPECT_TRUE(fresh(7));
  open();
  EXPECT_FALSE(fresh(1));
  EXPECT_FALSE(fresh(7));
  EXPECT_TRUE(fresh(6));
}

TEST_F(DedupeTest, RunningFarAheadWritesOffTheOldestMissing) {
  open(/*window=*/10);
  EXPECT_TRUE(fresh(1));
  EXPECT_TRUE(fresh(4));
  auto out = mark(25);  // more than 10 above the floor (1)
  EXPECT_EQ(out.verdict, DedupeWindow::Verdict::fresh);
  ASSERT_TRUE(out.written_off.has_value());
  EXPECT_EQ(out.written_off->first, 2u);
  EXPECT_EQ(out.written_off->last, 15u);
  EXPECT_EQ(*window_->floor("il-gw-1", 1), 15u);
  EXPECT_FALSE(fresh(3));  // written off: too late
  EXPECT_TRUE(fresh(16));
  auto missing = *window_->missing("il-gw-1", 1);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].first, 17u);
  EXPECT_EQ(missing[0].last, 24u);
}

TEST_F(DedupeTest, RandomArrivalOrderMatchesAReferenceSet) {
  // A seeded shuffle with duplicates: the window must say fresh exactly once per seq.
  std::mt19937_64 rng(424242);
  std::vector<std::uint64_t> arrivals;
  for (std::uint64_t s = 1; s <= 2000; ++s) {
    arrivals.push_back(s);
    if (rng() % 5 == 0) arrivals.push_back(s);
  }
  // Local reordering only (within 50), as a link reorders.
  for (std::size_t i = 0; i + 1 < arrivals.size(); ++i) {
    std::size_t j = i + rng() % std::min<std::size_t>(50, arrivals.size() - i);
    std::swap(arrivals[i], arrivals[j]);
  }
  std::set<std::uint64_t> seen;
  auto txn = env_->begin_write();
  for (std::uint64_t s : arrivals) {
    auto out = window_->check_and_mark(*txn, "o", 9, s);
    ASSERT_TRUE(out.ok());
    const bool expect_fresh = seen.insert(s).second;
    ASSERT_EQ(out->verdict == DedupeWindow::Verdict::fresh, expect_fresh)
        << "seed 424242 seq " << s;
  }
  ASSERT_TRUE(txn->commit().ok());
  EXPECT_EQ(*window_->floor("o", 9), 2000u);
}

TEST(Outbox, EnqueueReadAcknowledge) {
  TempDir dir;
  auto env = *store::Env::open({.path = dir.path()});
  auto outbox = *Outbox::open(*env);
  std::vector<std::uint8_t> item = {1, 2, 3};
  {
    auto txn = env->begin_write();
    EXPECT_EQ(*outbox.enqueue(*txn, "il-gw-1", 1, 10, 100, item), 1u);
    EXPECT_EQ(*outbox.enqueue(*txn, "il-gw-1", 1, 11, 101, item), 2u);
    EXPECT_EQ(*outbox.enqueue(*txn, "il-gw-1", 1, 12, 102, item), 3u);
    ASSERT_TRUE(txn->commit().ok());
  }
  EXPECT_EQ(*outbox.size(), 3u);
  auto after1 = *outbox.read(1, 10);
  ASSERT_EQ(after1.size(), 2u);
  EXPECT_EQ(after1[0].seq, 11u);
  EXPECT_EQ(after1[0].log_index, 101u);
  EXPECT_EQ(after1[0].item, item);
  const std::uint64_t acks[] = {2, 2, 9};
  EXPECT_EQ(*outbox.acknowledge(acks), 1u);
  EXPECT_EQ(*outbox.size(), 2u);
  EXPECT_FALSE((*outbox.get(2)).has_value());
  EXPECT_EQ((*outbox.get(3))->seq, 12u);
}

}  // namespace
}  // namespace cg::deliver
