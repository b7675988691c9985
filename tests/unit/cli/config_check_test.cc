// `config check` and `run` share one path up to the store and the sockets (issue 15, class 7):
// each config that check used to call ok while run then failed is now refused by check, with
// the reason run would give.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "bench/lab/deploy/deploy.h"
#include "gateway/cli/cli.h"
#include "tests/support/temp_dir.h"

namespace cg::cli {
namespace {

class ConfigCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deploy::Options o;
    o.dir = dir_.file("cell");
    o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
    auto c = deploy::create(o);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    cell_ = std::move(*c);
  }
  int check(const std::string& file, std::string& out) {
    ::testing::internal::CaptureStdout();
    const int rc = config_check(file, false);
    out = ::testing::internal::GetCapturedStdout();
    return rc;
  }
  static std::string read(const std::string& file) {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // The gateway's config with `from` replaced by `to`, written next to it (relative paths
  // resolve the same way).
  std::string edited(const std::string& from, const std::string& to) {
    std::string text = read(cell_.gateway_config);
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
    const std::string out = cell_.gateway_config + ".edited.toml";
    std::ofstream(out) << text;
    return out;
  }

  testing::TempDir dir_{"cg-config-check"};
  deploy::Deployment cell_;
};

TEST_F(ConfigCheckTest, AGoodConfigIsOk) {
  std::string out;
  EXPECT_EQ(check(cell_.gateway_config, out), exit_ok) << out;
  EXPECT_EQ(check(cell_.relay_config, out), exit_ok) << out;
  EXPECT_EQ(check(cell_.receiver_config, out), exit_ok) << out;
}

TEST_F(ConfigCheckTest, AMissingTrustRootIsRefused) {
  std::filesystem::remove(cell_.trust_root_file);
  std::string out;
  EXPECT_EQ(check(cell_.gateway_config, out), exit_io) << out;
  EXPECT_NE(out.find("keys.trust_root"), std::string::npos) << out;
}

TEST_F(ConfigCheckTest, AMissingRulesBundleIsRefused) {
  std::filesystem::remove(cell_.rules_bundle_file);
  std::string out;
  EXPECT_EQ(check(cell_.gateway_config, out), exit_io) << out;
  EXPECT_NE(out.find("pipeline.rules_bundle"), std::string::npos) << out;
}

TEST_F(ConfigCheckTest, AMissingOrShortLinkKeyIsRefused) {
  const std::string text = read(cell_.relay_config);
  const auto at = text.find("key_file = \"");
  ASSERT_NE(at, std::string::npos);
  const auto end = text.find('"', at + 12);
  std::string key = text.substr(at + 12, end - at - 12);
  if (key.front() != '/') key = std::filesystem::path(cell_.relay_config).parent_path() / key;
  std::ofstream(key, std::ios::trunc) << "short";
  std::string out;
  EXPECT_NE(check(cell_.relay_config, out), exit_ok) << out;
  EXPECT_NE(out.find("key_file"), std::string::npos) << out;
  std::filesystem::remove(key);
  EXPECT_EQ(check(cell_.relay_config, out), exit_io) << out;
}

TEST_F(ConfigCheckTest, APeerTheLinkCannotUseIsRefused) {
  const std::string file = edited("peer = \"127.0.0.1:", "peer = \"localhost:");
  std::string out;
  EXPECT_EQ(check(file, out), exit_usage) << out;
  EXPECT_NE(out.find("not an IPv4 address: localhost"), std::string::npos) << out;
}

TEST_F(ConfigCheckTest, SpecialFilesAreRefusedWithoutBlocking) {
  const std::string fifo = dir_.file("config.fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string out;
  EXPECT_EQ(check(fifo, out), exit_io) << out;  // returns: no writer is ever opened
  EXPECT_NE(out.find("not a regular file (a FIFO)"), std::string::npos) << out;
  EXPECT_EQ(check(dir_.path(), out), exit_io) << out;
  EXPECT_NE(out.find("not a regular file (a directory)"), std::string::npos) << out;
  // A FIFO in place of a file the config names (here the trust root).
  std::filesystem::remove(cell_.trust_root_file);
  ASSERT_EQ(::mkfifo(cell_.trust_root_file.c_str(), 0600), 0);
  EXPECT_EQ(check(cell_.gateway_config, out), exit_io) << out;
  EXPECT_NE(out.find("not a regular file (a FIFO)"), std::string::npos) << out;
}

}  // namespace
}  // namespace cg::cli
