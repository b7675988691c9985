#include "gateway/sentlog/sentlog.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

namespace cg::sentlog {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cg-sentlog-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::uint64_t send(store::Env& env, SentLog& log, const StreamId& id, std::int64_t t,
                   std::uint8_t byte) {
  auto txn = env.begin_write();
  auto seq = log.next_seq(*txn, id);
  EXPECT_TRUE(seq.ok());
  const std::uint8_t envelope[3] = {byte, byte, byte};
  EXPECT_TRUE(log.put(*txn, id, *seq, t, envelope).ok());
  EXPECT_TRUE(txn->commit().ok());
  return *seq;
}

TEST(SentLog, SequencesPerStreamStartAtOneAndKeepEnvelopes) {
  TempDir dir;
  auto env = *store::Env::open({.path = dir.path()});
  auto log = *SentLog::open(*env);
  StreamId sy{"sy", 1}, sy2{"sy", 2}, il{"il", 1};
  EXPECT_EQ(send(*env, log, sy, 10, 1), 1u);
  EXPECT_EQ(send(*env, log, sy, 11, 2), 2u);
  EXPECT_EQ(send(*env, log, sy2, 12, 3), 1u);
  EXPECT_EQ(send(*env, log, il, 13, 4), 1u);
  auto e = *log.get(sy, 2);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(*e, (std::vector<std::uint8_t>{2, 2, 2}));
  EXPECT_FALSE((*log.get(sy, 3)).has_value());
  EXPECT_EQ(*log.last_seq(sy), 2u);
  EXPECT_EQ(*log.first_kept(sy), 1u);
}

TEST(SentLog, AbortedTransactionLeavesItsSeqUnsent) {
  TempDir dir;
  auto env = *store::Env::open({.path = dir.path()});
  auto log = *SentLog::open(*env);
  StreamId sy{"sy", 1};
  EXPECT_EQ(send(*env, log, sy, 1, 1), 1u);
  {
    auto txn = env->begin_write();
    EXPECT_EQ(*log.next_seq(*txn, sy), 2u);
  }  // aborted: seq 2 was never sent, so it may be used
  EXPECT_EQ(send(*env, log, sy, 2, 2), 2u);
}

TEST(SentLog, PruneDropsOldestFirstAndBoundsWork) {
  TempDir dir;
  auto env = *store::Env::open({.path = dir.path()});
  auto log = *SentLog::open(*env);
  StreamId sy{"sy", 1};
  for (int i = 1; i <= 10; ++i) send(*env, log, sy, i * 100, static_cast<std::uint8_t>(i));
  EXPECT_EQ(*log.prune_before(550, 3), 3u);  // bounded: 3 of the 5 old enough
  EXPECT_EQ(*log.prune_before(550, 100), 2u);
  EXPECT_EQ(*log.prune_before(550, 100), 0u);
  EXPECT_EQ(*log.first_kept(sy), 6u);
  EXPECT_FALSE((*log.get(sy, 5)).has_value());
  EXPECT_TRUE((*log.get(sy, 6)).has_value());
  EXPECT_EQ(*log.last_seq(sy), 10u);  // the counter never goes back
}

TEST(SentLogCrash, SeqsNeverRepeatAcrossKillNine) {
  TempDir dir;
  StreamId sy{"sy", 1};
  std::uint64_t highest_confirmed = 0;
  for (int round = 0; round < 4; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      auto env = store::Env::open({.path = dir.path()});
      if (!env.ok()) ::_exit(2);
      auto log = SentLog::open(**env);
      for (;;) {
        auto txn = (*env)->begin_write();
        auto seq = log->next_seq(*txn, sy);
        const std::uint8_t e[1] = {1};
        if (!seq.ok() || !log->put(*txn, sy, *seq, 1, e).ok() || !txn->commit().ok()) ::_exit(3);
        auto s = store::be64(*seq);
        if (::write(fds[1], s.data(), 8) != 8) ::_exit(4);
      }
    }
    ::close(fds[1]);
    std::array<std::uint8_t, 8> buf{};
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(::read(fds[0], buf.data(), 8), 8);
      std::uint64_t seq = *store::from_be64(buf);
      ASSERT_GT(seq, highest_confirmed) << "a sequence number was reused after a crash";
      highest_confirmed = seq;
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    while (::read(fds[0], buf.data(), 8) == 8) {
      std::uint64_t seq = *store::from_be64(buf);
      ASSERT_GT(seq, highest_confirmed);
      highest_confirmed = seq;
    }
    ::close(fds[0]);
  }
  auto env = *store::Env::open({.path = dir.path()});
  auto log = *SentLog::open(*env);
  EXPECT_GE(*log.last_seq(sy), highest_confirmed);
  EXPECT_TRUE((*log.get(sy, highest_confirmed)).has_value());
}

}  // namespace
}  // namespace cg::sentlog
