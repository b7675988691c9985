#include "gateway/store/store.h"

#include <gtest/gtest.h>
#include <lmdb.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <random>
#include <string>

namespace cg::store {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cg-store-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string str(Bytes b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TEST(Store, PutGetEraseCommit) {
  TempDir dir;
  auto env = Env::open({.path = dir.path()});
  ASSERT_TRUE(env.ok()) << env.status().to_string();
  auto t = (*env)->table("items");
  ASSERT_TRUE(t.ok());
  {
    auto w = (*env)->begin_write();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->put(*t, as_bytes("a"), as_bytes("1")).ok());
    ASSERT_TRUE(w->put(*t, as_bytes("b"), as_bytes("2")).ok());
    auto inside = w->get(*t, as_bytes("a"));
    ASSERT_TRUE(inside.ok() && inside->has_value());
    EXPECT_EQ(str(**inside), "1");
    auto erased = w->erase(*t, as_bytes("b"));
    ASSERT_TRUE(erased.ok());
    EXPECT_TRUE(*erased);
    auto again = w->erase(*t, as_bytes("b"));
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);
    ASSERT_TRUE(w->commit().ok());
  }
  auto r = (*env)->begin_read();
  ASSERT_TRUE(r.ok());
  auto a = r->get(*t, as_bytes("a"));
  ASSERT_TRUE(a.ok() && a->has_value());
  EXPECT_EQ(str(**a), "1");
  auto b = r->get(*t, as_bytes("b"));
  ASSERT_TRUE(b.ok());
  EXPECT_FALSE(b->has_value());
}

// LMDB forbids two environments on one file in one process (closing one breaks the other's
// locks): every Env of one store in a process shares one, closed with the last handle.
TEST(Store, OpensOfOneStoreInOneProcessShareOneEnvironment) {
  TempDir dir;
  auto a = Env::open({.path = dir.path()});
  ASSERT_TRUE(a.ok());
  auto t = (*a)->table("items");
  ASSERT_TRUE(t.ok());
  {
    auto b = Env::open({.path = dir.path(), .read_only = true});
    ASSERT_TRUE(b.ok()) << b.status().to_string();
    auto w = (*a)->begin_write();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->put(*t, as_bytes("k"), as_bytes("v")).ok());
    ASSERT_TRUE(w->commit().ok());
    auto tb = (*b)->table("items");
    ASSERT_TRUE(tb.ok());
    auto r = (*b)->begin_read();
    ASSERT_TRUE(r.ok());
    auto v = r->get(*tb, as_bytes("k"));
    ASSERT_TRUE(v.ok() && v->has_value());
    EXPECT_EQ(str(**v), "v");
  }  // b closed: a still works
  for (int i = 0; i < 3; ++i) {
    auto c = Env::open({.path = dir.path()});
    ASSERT_TRUE(c.ok());
    auto w = (*a)->begin_write();
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->put(*t, as_bytes("k"), as_bytes(std::to_string(i))).ok());
    ASSERT_TRUE(w->commit().ok());
  }
  auto r = (*a)->begin_read();
  ASSERT_TRUE(r.ok());
  auto v = r->get(*t, as_bytes("k"));
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(str(**v), "2");
}

TEST(Store, UncommittedWriteIsDiscarded) {
  TempDir dir;
  auto env = Env::open({.path = dir.path()});
  ASSERT_TRUE(env.ok());
  auto t = (*env)->table("t");
  ASSERT_TRUE(t.ok());
  {
    auto w = (*env)->begin_write();
    ASSERT_TRUE(w->put(*t, as_bytes("k"), as_bytes("v")).ok());
  }  // destroyed without commit
  auto r = (*env)->begin_read();
  auto v = r->get(*t, as_bytes("k"));
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->has_value());
}

TEST(Store, InsertRefusesExistingKey) {
  TempDir dir;
  auto env = Env::open({.path = dir.path()});
  auto t = (*env)->table("t");
  auto w = (*env)->begin_write();
  ASSERT_TRUE(w->insert(*t, as_bytes("k"), as_bytes("v1")).ok());
  Status s = w->insert(*t, as_bytes("k"), as_bytes("v2"));
  EXPECT_EQ(s.code(), Code::rejected);
  auto v = w->get(*t, as_bytes("k"));
  EXPECT_EQ(str(**v), "v1");
}

TEST(Store, Be64KeysIterateInNumericOrder) {
  TempDir dir;
  auto env = Env::open({.path = dir.path()});
  auto t = (*env)->table("seq");
  {
    auto w = (*env)->begin_write();
    for (std::uint64_t v : {300ull, 2ull, 70000ull, 1ull << 40, 5ull}) {
      auto k = be64(v);
      ASSERT_TRUE(w->put(*t, k, k).ok());
    }
    ASSERT_TRUE(w->commit().ok());
  }
  auto r = (*env)->begin_read();
  auto c = r->cursor(*t);
  ASSERT_TRUE(c.ok());
  std::vector<std::uint64_t> seen;
  auto seek = be64(5);
  for (auto e = c->next(seek); e.ok() && e->has_value(); e = c->next()) {
    seen.push_back(*from_be64((*e)->first));
  }
  EXPECT_EQ(seen, (std::vector<std::uint64_t>{5, 300, 70000, 1ull << 40}));
  EXPECT_FALSE(from_be64(as_bytes("short")).has_value());
}

TEST(Store, ReopenKeepsCommittedData) {
  TempDir dir;
  {
    auto env = Env::open({.path = dir.path()});
    auto t = (*env)->table("t");
    auto w = (*env)->begin_write();
    ASSERT_TRUE(w->put(*t, as_bytes("k"), as_bytes("durable")).ok());
    ASSERT_TRUE(w->commit().ok());
  }
  auto env = Env::open({.path = dir.path()});
  ASSERT_TRUE(env.ok());
  auto t = (*env)->table("t");
  auto r = (*env)->begin_read();
  auto v = r->get(*t, as_bytes("k"));
  ASSERT_TRUE(v.ok() && v->has_value());
  EXPECT_EQ(str(**v), "durable");
}

TEST(Store, FullMapIsOverloadedNotSilent) {
  TempDir dir;
  auto env = Env::open({.path = dir.path(), .map_bytes = 256 * 1024});
  ASSERT_TRUE(env.ok());
  auto t = (*env)->table("t");
  std::vector<std::uint8_t> value(4096, 0xab);
  Status last;
  std::uint64_t stored = 0;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    auto w = (*env)->begin_write();
    ASSERT_TRUE(w.ok());
    last = w->put(*t, be64(i), value);
    if (!last.ok()) break;
    last = w->commit();
    if (!last.ok()) break;
    ++stored;
  }
  EXPECT_EQ(last.code(), Code::overloaded) << last.to_string();
  EXPECT_NE(last.reason().find("MDB_MAP_FULL"), std::string::npos) << last.reason();
  EXPECT_EQ(last.reason().rfind("store full (disk or map size): ", 0), 0u) << last.reason();
  EXPECT_GT(stored, 10u);
  // What was committed before the bound was hit is all still there.
  auto r = (*env)->begin_read();
  for (std::uint64_t i = 0; i < stored; ++i) {
    auto v = r->get(*t, be64(i));
    ASSERT_TRUE(v.ok() && v->has_value()) << i;
  }
}

TEST(Store, OpenFailsWithIoErrorOnBadPath) {
  auto env = Env::open({.path = "/proc/definitely/not/here"});
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(env.status().code(), Code::io);
}

// kill -9 at arbitrary instants during group commits: every batch the writer saw committed is
// whole after restart, and no batch is ever partly present.
TEST(StoreCrash, KillNineLosesNothingCommittedAndNeverHalfABatch) {
  TempDir dir;
  constexpr std::uint64_t batch_items = 64;
  std::mt19937_64 rng(20261124);
  std::uint64_t next_batch = 0;
  std::uint64_t total_confirmed = 0;
  for (int round = 0; round < 6; ++round) {
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      auto env = Env::open({.path = dir.path()});
      if (!env.ok()) ::_exit(2);
      auto t = (*env)->table("items");
      if (!t.ok()) ::_exit(2);
      for (std::uint64_t b = next_batch;; ++b) {
        auto w = (*env)->begin_write();
        if (!w.ok()) ::_exit(3);
        for (std::uint64_t i = 0; i < batch_items; ++i) {
          auto key = be64(b * batch_items + i);
          auto value = be64(b);
          if (!w->put(*t, key, value).ok()) ::_exit(4);
        }
        if (!w->commit().ok()) ::_exit(5);
        auto confirmed = be64(b);
        if (::write(fds[1], confirmed.data(), 8) != 8) ::_exit(6);
      }
    }
    ::close(fds[1]);
    // Let the child confirm a random number of batches, then kill it mid-flight.
    const std::uint64_t wait_for = 3 + rng() % 20;
    std::uint64_t last_confirmed = next_batch == 0 ? UINT64_MAX : next_batch - 1;
    for (std::uint64_t n = 0; n < wait_for; ++n) {
      std::array<std::uint8_t, 8> buf{};
      ASSERT_EQ(::read(fds[0], buf.data(), 8), 8);
      last_confirmed = *from_be64(buf);
      ++total_confirmed;
    }
    ::usleep(static_cast<useconds_t>(rng() % 3000));
    ::kill(pid, SIGKILL);
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    // Confirmations written before the kill but not yet read still count as committed.
    std::array<std::uint8_t, 8> buf{};
    while (::read(fds[0], buf.data(), 8) == 8) {
      last_confirmed = *from_be64(buf);
      ++total_confirmed;
    }
    ::close(fds[0]);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);

    auto env = Env::open({.path = dir.path()});
    ASSERT_TRUE(env.ok()) << env.status().to_string();
    auto t = (*env)->table("items");
    auto r = (*env)->begin_read();
    // Every confirmed batch is whole; the batch after may be whole or absent, never partial.
    std::uint64_t b = 0;
    for (;; ++b) {
      std::uint64_t present = 0;
      for (std::uint64_t i = 0; i < batch_items; ++i) {
        auto v = r->get(*t, be64(b * batch_items + i));
        ASSERT_TRUE(v.ok());
        if (v->has_value()) {
          ++present;
          ASSERT_EQ(from_be64(**v), b);
        }
      }
      ASSERT_TRUE(present == 0 || present == batch_items)
          << "round " << round << ": batch " << b << " is partial (" << present << ")";
      if (present == 0) break;
    }
    ASSERT_TRUE(last_confirmed == UINT64_MAX || b > last_confirmed)
        << "round " << round << ": confirmed batch " << last_confirmed << " lost";
    next_batch = b;  // continue after what is durable
  }
  EXPECT_GT(total_confirmed, 6u * 3u);
}

}  // namespace
}  // namespace cg::store

namespace cg::store {
namespace {
TEST(StoreReadOnly, NeverCreatesAndCannotWrite) {
  TempDir dir;
  auto missing = Env::open({.path = dir.path() + "/nothing", .read_only = true});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::io);
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/nothing"));
  {
    auto env = Env::open({.path = dir.path()});
    auto t = (*env)->table("t");
    auto w = (*env)->begin_write();
    ASSERT_TRUE(w->put(*t, as_bytes("k"), as_bytes("v")).ok());
    ASSERT_TRUE(w->commit().ok());
  }
  auto env = Env::open({.path = dir.path(), .read_only = true});
  ASSERT_TRUE(env.ok()) << env.status().to_string();
  auto t = (*env)->table("t");
  ASSERT_TRUE(t.ok());
  auto absent = (*env)->table("other");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.status().reason(), "store: has no table 'other'");
  EXPECT_FALSE((*env)->begin_write().ok());
  auto r = (*env)->begin_read();
  EXPECT_TRUE((*r->get(*t, as_bytes("k"))).has_value());
}
}  // namespace
}  // namespace cg::store

namespace cg::store {
namespace {

// One running node per store: a second claim is refused naming the holder's pid; the claim
// ends with its holder (here, by destruction; for a process, by exit or kill -9).
TEST(StoreLock, SecondClaimIsRefusedNamingTheHolder) {
  TempDir dir;
  const std::string store = dir.path() + "/s";
  auto first = NodeLock::acquire(store);
  ASSERT_TRUE(first.ok()) << first.status().reason();
  auto second = NodeLock::acquire(store);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::rejected);
  EXPECT_NE(second.status().reason().find("in use by another node (pid " +
                                          std::to_string(::getpid()) + ")"),
            std::string::npos)
      << second.status().reason();
  // Reviewer tools open the store next to the node: the lock does not stand in their way.
  auto env = Env::open({.path = store});
  ASSERT_TRUE(env.ok()) << env.status().reason();
  first->reset();
  auto again = NodeLock::acquire(store);
  EXPECT_TRUE(again.ok()) << again.status().reason();
}

TEST(StoreLock, ALockHeldByAnotherProcessNamesItsPidAndEndsWithIt) {
  TempDir dir;
  const std::string store = dir.path() + "/s";
  int ready[2], stop[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(stop), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = NodeLock::acquire(store);
    const char ok = lock.ok() ? 'y' : 'n';
    (void)!::write(ready[1], &ok, 1);
    char c;
    (void)!::read(stop[0], &c, 1);  // until the parent says stop
    ::_exit(0);
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');
  auto mine = NodeLock::acquire(store);
  ASSERT_FALSE(mine.ok());
  EXPECT_NE(mine.status().reason().find("(pid " + std::to_string(child) + ")"), std::string::npos)
      << mine.status().reason();
  ::kill(child, SIGKILL);  // dies holding it: the kernel releases the lock
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  auto after = NodeLock::acquire(store);
  EXPECT_TRUE(after.ok()) << after.status().reason();
  for (int fd : {ready[0], ready[1], stop[0], stop[1]}) ::close(fd);
}

// A symlink in place of the lock file is not followed.
TEST(StoreLock, RefusesASymlinkedLockFile) {
  TempDir dir;
  const std::string store = dir.path() + "/s";
  ASSERT_EQ(::mkdir(store.c_str(), 0700), 0);
  ASSERT_EQ(::symlink((dir.path() + "/elsewhere").c_str(), (store + "/node.lock").c_str()), 0);
  auto lock = NodeLock::acquire(store);
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), Code::io);
}

}  // namespace
}  // namespace cg::store

namespace cg::store {
namespace {

// A full disk says so, instead of "Input/output error" or an errno the operator must decode.
TEST(StoreErrors, AFullDiskOrMapIsStoreFullAndOverloaded) {
  for (int rc : {ENOSPC, EDQUOT, MDB_MAP_FULL}) {
    const Status s = error_status("commit", rc);
    EXPECT_EQ(s.code(), Code::overloaded) << rc;
    EXPECT_EQ(s.reason().rfind("store full (disk or map size): ", 0), 0u) << s.reason();
  }
  EXPECT_NE(error_status("commit", ENOSPC).reason().find("the disk is full"), std::string::npos);
  EXPECT_NE(error_status("commit", MDB_MAP_FULL).reason().find("raise store_bytes_max"),
            std::string::npos);
  const Status other = error_status("commit", EACCES);
  EXPECT_EQ(other.code(), Code::io);
  EXPECT_EQ(other.reason().rfind("store: commit: ", 0), 0u) << other.reason();
}

}  // namespace
}  // namespace cg::store
