// `cellgate quarantine list|show|reject` over a gateway store with holds.
#include <capnp/message.h>
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace cg::cli
