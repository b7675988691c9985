// `cellgate quarantine list|show|release|reject` over a gateway store with holds.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include "crypto/keys.h"
#include "gateway/audit/audit.h"
#include "gateway/cli/cli.h"
#include "gateway/quarantine/quarantine.h"
#include "tests/support/items.h"
#include "tests/support/temp_dir.h"

namespace cg::cli {
namespace {

TEST(QuarantineCommands, ListShowRejectAndTheRejectionIsAudited) {
  testing::TempDir dir("cg-qcmd");
  {
    auto env = *store::Env::open({.path = dir.path()});
    auto q = *quarantine::Quarantine::open(*env);
    capnp::MallocMessageBuilder mb;
    testing::fill_sample_item(mb.initRoot<schema::Item>());
    auto item = wire::canonical(mb.getRoot<schema::Item>().asReader());
    auto txn = *env->begin_write();
    ASSERT_TRUE(q.hold(txn, 1'790'000'000'000'000'000, "sy", 3,
                       "rule r3: ORCON goes to review\nportion detail: orcon",
                       item.canonical_bytes())
                    .ok());
    ASSERT_TRUE(q.hold(txn, 1'790'000'000'000'000'001, "us", 3, "pattern il-phone-number",
                       item.canonical_bytes())
                    .ok());
    ASSERT_TRUE(txn.commit().ok());
  }
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(quarantine_list(dir.path(), false), exit_ok);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("rule r3: ORCON goes to review"), std::string::npos) << out;
  EXPECT_NE(out.find("2 held"), std::string::npos) << out;
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(quarantine_show(dir.path(), 1), exit_ok);
  out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("portion detail: orcon"), std::string::npos) << out;
  EXPECT_NE(out.find("\"kind\""), std::string::npos) << out;
  EXPECT_EQ(quarantine_show(dir.path(), 9), exit_failed);
  EXPECT_EQ(quarantine_reject(dir.path(), 1, "il-gw-1", "not for release"), exit_ok);
  EXPECT_EQ(quarantine_reject(dir.path(), 1, "il-gw-1", "again"), exit_failed);
  auto env = *store::Env::open({.path = dir.path(), .read_only = true});
  EXPECT_EQ(*quarantine::Quarantine::open(*env)->size(), 1u);
  std::vector<std::string> reasons;
  auto report = audit::verify(*env, [&](std::uint64_t, schema::AuditRecord::Reader r) {
    reasons.emplace_back(wire::view(r.getDetail()));
  });
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value());
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons[0], "not for release");
}

// `release` signs the hold's release statement with the reviewer's key and leaves it for the
// gateway: the request in the store verifies as that reviewer's signature over that hold.
TEST(QuarantineCommands, ReleaseLeavesASignedRequestForTheGateway) {
  testing::TempDir dir("cg-qrel");
  const auto& suite = crypto::modern_suite();
  auto paths = crypto::write_node_keys(dir.path(), "alice", suite.id(), nullptr, true);
  ASSERT_TRUE(paths.ok());
  const auto pub = crypto::read_public_key_file(paths->signing_public)->public_key;
  {
    auto env = *store::Env::open({.path = dir.file("store")});
    auto q = *quarantine::Quarantine::open(*env);
    capnp::MallocMessageBuilder mb;
    testing::fill_sample_item(mb.initRoot<schema::Item>());
    auto item = wire::canonical(mb.getRoot<schema::Item>().asReader());
    auto txn = *env->begin_write();
    ASSERT_TRUE(
        q.hold(txn, 1'790'000'000'000'000'000, "sy", 3, "ORCON", item.canonical_bytes()).ok());
    ASSERT_TRUE(txn.commit().ok());
  }
  KeyOptions k{paths->signing, "", true};
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(quarantine_release(dir.file("store"), 1, k), exit_ok);
  EXPECT_NE(::testing::internal::GetCapturedStdout().find("handed to the gateway"),
            std::string::npos);
  EXPECT_EQ(quarantine_release(dir.file("store"), 7, k), exit_failed) << "no such hold";
  auto env = *store::Env::open({.path = dir.file("store")});
  auto q = *quarantine::Quarantine::open(*env);
  auto txn = *env->begin_write();
  auto requests = *q.release_requests(txn, 10);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].hold, 1u);
  EXPECT_EQ(requests[0].key_id, crypto::key_id(suite.id(), pub));
  const approval::SuiteVerifier verifier(suite);
  const auto statement = quarantine::Quarantine::release_statement(**q.get(1), verifier);
  EXPECT_TRUE(suite.verify(pub, statement, requests[0].signature).ok());
}

}  // namespace
}  // namespace cg::cli
