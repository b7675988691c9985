// The audit hash chain: every kind of tampering is reported at the exact record.
#include "gateway/audit/audit.h"

#include <capnp/message.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "gateway/wire/wire.h"

namespace cg::audit {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cg-audit-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = std::move(*store::Env::open({.path = dir_.path()}));
    log_ = std::make_unique<AuditLog>(
        std::move(*AuditLog::open(*env_, "il-gw-1", crypto::modern_suite())));
    records_ = *env_->table("audit.records");
  }

  void append_n(int n, int per_txn = 1) {
    for (int i = 0; i < n; i += per_txn) {
      auto txn = env_->begin_write();
      ASSERT_TRUE(txn.ok());
      for (int k = 0; k < per_txn && i + k < n; ++k) {
        const std::uint8_t id[16] = {static_cast<std::uint8_t>(i + k)};
        Event e{.time_ns = 1000 + i + k,
                .event = schema::AuditEvent::RELEASED,
                .item_id = id,
                .origin = "il-gw-1",
                .destination = "sy",
                .stream = 1,
                .seq = static_cast<std::uint64_t>(i + k + 1),
                .rules_version = 7,
                .reason = "rule r1",
                .detail = "released under r1; portions: 0 kept"};
        ASSERT_TRUE(log_->append(*txn, e).ok());
      }
      ASSERT_TRUE(txn->commit().ok());
    }
  }

  std::vector<std::uint8_t> raw(std::uint64_t index) {
    auto txn = env_->begin_read();
    auto v = txn->get(records_, store::be64(index));
    return {(*v)->begin(), (*v)->end()};
  }
  void overwrite(std::uint64_t index, std::span<const std::uint8_t> bytes) {
    auto txn = env_->begin_write();
    ASSERT_TRUE(txn->put(records_, store::be64(index), bytes).ok());
    ASSERT_TRUE(txn->commit().ok());
  }

  TempDir dir_;
  std::unique_ptr<store::Env> env_;
  std::unique_ptr<AuditLog> log_;
  store::Table records_;
};

TEST_F(AuditTest, ChainVerifiesAndVisitsInOrder) {
  append_n(10, 3);
  std::vector<std::uint64_t> seqs;
  auto report = verify(*env_, [&](std::uint64_t, schema::AuditRecord::Reader r) {
    seqs.push_back(r.getSeq());
    EXPECT_EQ(std::string(r.getNode().cStr()), "il-gw-1");
  });
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value()) << report->problem;
  EXPECT_EQ(report->records, 10u);
  EXPECT_EQ(seqs, (std::vector<std::uint64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}));
  auto head = log_->head();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->first, 10u);
  EXPECT_EQ(head->second, report->head);
}

TEST_F(AuditTest, AbortedTransactionLeavesNoRecord) {
  append_n(2);
  {
    auto txn = env_->begin_write();
    const std::uint8_t id[16] = {};
    ASSERT_TRUE(log_->append(*txn, {.event = schema::AuditEvent::BLOCKED, .item_id = id}).ok());
  }
  append_n(1);
  auto report = verify(*env_);
  EXPECT_FALSE(report->broken_at.has_value()) << report->problem;
  EXPECT_EQ(report->records, 3u);
}

TEST_F(AuditTest, ChangedRecordIsCaughtAtTheNextRecord) {
  append_n(5);
  // Re-encode record 3 with a different detail: still a valid record, but its hash changed.
  auto bytes = raw(3);
  auto words = kj::heapArray<capnp::word>(bytes.size() / 8);
  std::memcpy(words.begin(), bytes.data(), bytes.size());
  auto message = wire::Message<schema::AuditRecord>::from_canonical(std::move(words));
  capnp::MallocMessageBuilder b;
  b.setRoot(message.root());
  b.getRoot<schema::AuditRecord>().setDetail("nothing to see here");
  auto forged = wire::canonical(b.getRoot<schema::AuditRecord>().asReader());
  overwrite(3, forged.canonical_bytes());
  auto report = verify(*env_);
  ASSERT_TRUE(report->broken_at.has_value());
  EXPECT_EQ(*report->broken_at, 4u);
  EXPECT_EQ(report->problem,
            "record 4: previous hash does not match record 3 (changed, removed or reordered)");
}

TEST_F(AuditTest, ChangedLastRecordIsCaughtByTheHead) {
  append_n(3);
  auto bytes = raw(3);
  const std::string needle = "released under";
  auto at = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  ASSERT_NE(at, bytes.end());
  *at = 'R';  // the record stays canonical and well-formed; only its content changed
  overwrite(3, bytes);
  auto report = verify(*env_);
  ASSERT_TRUE(report->broken_at.has_value());
  EXPECT_EQ(*report->broken_at, 4u);
  EXPECT_NE(report->problem.find("head names record 3"), std::string::npos) << report->problem;
}

TEST_F(AuditTest, RemovedRecordIsNamed) {
  append_n(5);
  auto txn = env_->begin_write();
  ASSERT_TRUE(*txn->erase(records_, store::be64(2)));
  ASSERT_TRUE(txn->commit().ok());
  auto report = verify(*env_);
  ASSERT_TRUE(report->broken_at.has_value());
  EXPECT_EQ(*report->broken_at, 2u);
  EXPECT_EQ(report->problem, "record 2 is missing (next is 3)");
}

TEST_F(AuditTest, SwappedRecordsAreCaught) {
  append_n(4);
  auto two = raw(2), three = raw(3);
  overwrite(2, three);
  overwrite(3, two);
  auto report = verify(*env_);
  ASSERT_TRUE(report->broken_at.has_value());
  EXPECT_EQ(*report->broken_at, 2u);
}

TEST_F(AuditTest, GarbageRecordIsMalformed) {
  append_n(3);
  std::vector<std::uint8_t> junk(24, 0xee);
  overwrite(2, junk);
  auto report = verify(*env_);
  ASSERT_TRUE(report->broken_at.has_value());
  EXPECT_EQ(*report->broken_at, 2u);
  EXPECT_NE(report->problem.find("audit record"), std::string::npos) << report->problem;
}

TEST_F(AuditTest, TruncatedTailIsCaughtByTheHead) {
  append_n(4);
  auto txn = env_->begin_write();
  ASSERT_TRUE(*txn->erase(records_, store::be64(4)));
  ASSERT_TRUE(txn->commit().ok());
  auto report = verify(*env_);
  ASSERT_TRUE(report->broken_at.has_value());
  EXPECT_NE(report->problem.find("records truncated"), std::string::npos) << report->problem;
}

TEST_F(AuditTest, EmptyLogVerifies) {
  auto report = verify(*env_);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value());
  EXPECT_EQ(report->records, 0u);
}

// The chain follows the deployment's suite: SHA-384 in cnsa, and the store says which, so
// verify needs nothing but the store; a store under one suite is never continued under another.
TEST(AuditSuite, ACnsaChainIsSha384AndVerifiesFromTheStoreAlone) {
  TempDir dir;
  auto env = store::Env::open({.path = dir.path()});
  ASSERT_TRUE(env.ok());
  auto log = AuditLog::open(**env, "il-gw-1", crypto::cnsa_suite());
  ASSERT_TRUE(log.ok()) << log.status().reason();
  for (int i = 0; i < 3; ++i) {
    auto txn = (*env)->begin_write();
    const std::uint8_t id[16] = {static_cast<std::uint8_t>(i)};
    ASSERT_TRUE(log->append(*txn, {.event = schema::AuditEvent::RELEASED, .item_id = id}).ok());
    ASSERT_TRUE(txn->commit().ok());
  }
  auto head = log->head();
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->second.size(), 48u);
  auto report = verify(**env);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value()) << report->problem;
  EXPECT_EQ(report->suite, crypto::SuiteId::cnsa);
  EXPECT_EQ(report->records, 3u);
  EXPECT_EQ(report->head, head->second);
  // The same bytes hashed as BLAKE2b would not chain: the suite is really used.
  EXPECT_NE(report->head.size(), crypto::modern_suite().hash_bytes());

  auto other = AuditLog::open(**env, "il-gw-1", crypto::modern_suite());
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().reason().find("hashed under suite cnsa"), std::string::npos)
      << other.status().reason();
}

TEST(AuditSuite, AStoreWithoutASuiteRecordIsAModernChain) {
  TempDir dir;
  auto env = store::Env::open({.path = dir.path()});
  ASSERT_TRUE(env.ok());
  {
    auto log = AuditLog::open(**env, "il-gw-1", crypto::modern_suite());
    ASSERT_TRUE(log.ok());
    auto meta = (*env)->table("audit.meta");  // (opening a table takes the write lock)
    ASSERT_TRUE(meta.ok());
    auto txn = (*env)->begin_write();
    const std::uint8_t id[16] = {};
    ASSERT_TRUE(log->append(*txn, {.event = schema::AuditEvent::BLOCKED, .item_id = id}).ok());
    // As a store written before the suite was recorded.
    ASSERT_TRUE(txn->erase(*meta, store::as_bytes(std::string_view("suite"))).ok());
    ASSERT_TRUE(txn->commit().ok());
  }
  auto report = verify(**env);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value()) << report->problem;
  EXPECT_EQ(report->suite, crypto::SuiteId::modern);
  EXPECT_FALSE(AuditLog::open(**env, "il-gw-1", crypto::cnsa_suite()).ok());
  EXPECT_TRUE(AuditLog::open(**env, "il-gw-1", crypto::modern_suite()).ok());
}

TEST(AuditNames, EveryEventHasAName) {
  for (unsigned e = 1; e <= static_cast<unsigned>(schema::AuditEvent::QUARANTINE_APPROVED); ++e) {
    EXPECT_NE(event_name(static_cast<schema::AuditEvent>(e)), "unknown") << e;
  }
}

}  // namespace
}  // namespace cg::audit
