// `cellgate quarantine list|show|release|reject` over a gateway store with holds.
#include <capnp/message.h>
#include <gtest/gtest.h>

#include "gateway/cli/cli.h"
#include "gateway/quarantine/quarantine.h"
#include "tests/support/items.h"
#include "tests/support/temp_dir.h"

namespace cg::cli {
namespace {

// (release and reject, which need a running gateway, are tested with one in
// tests/unit/node/gateway_node_test.cc.)
TEST(QuarantineCommands, ListAndShow) {
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
  EXPECT_EQ(*quarantine::Quarantine::open(**store::Env::open({.path = dir.path()}))->size(), 2u)
      << "list and show change nothing";
}

}  // namespace
}  // namespace cg::cli
