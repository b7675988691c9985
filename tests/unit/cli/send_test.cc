// `cellgate send` against an in-process ingest server on loopback.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "gateway/cli/cli.h"
#include "gateway/ingest/ingest.h"
#include "gateway/stix/stix.h"
#include "tests/support/items.h"

namespace cg::cli {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cg-cli-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void write(const std::string& path, std::string_view content) {
  std::ofstream(path, std::ios::binary) << content;
}

class SendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    env_ = *store::Env::open({.path = dir_.file("store")});
    inbox_ = std::make_unique<ingest::Inbox>(*ingest::Inbox::open(*env_));
    server_keys_ = ingest::curve_keypair();
    ASSERT_EQ(curve_keygen(dir_.file("source.key")), exit_ok);
    std::ifstream in(dir_.file("source.key"));
    std::string secret;
    std::getline(in, secret);
    auto pub = ingest::curve_public(secret);
    ASSERT_TRUE(pub.ok());
    ingest::ServerOptions options;
    options.secret_z85 = server_keys_.secret_z85;
    options.sources = {{"il-sigint-1", *pub}};
    server_ = std::make_unique<ingest::Server>(options, *env_, *inbox_, clock_);
    ASSERT_TRUE(server_->start().ok());
  }

  SendOptions options(std::vector<std::string> files) {
    return {.gateway = server_->endpoint(),
            .gateway_key = server_keys_.public_z85,
            .key_file = dir_.file("source.key"),
            .files = std::move(files),
            .window = 2,
            .timeout_ms = 10'000};
  }

  TempDir dir_;
  SystemClock clock_;
  std::unique_ptr<store::Env> env_;
  std::unique_ptr<ingest::Inbox> inbox_;
  ingest::KeyPair server_keys_;
  std::unique_ptr<ingest::Server> server_;
};

std::string sample_json(std::uint8_t id_tail, const char* source = "il-sigint-1") {
  capnp::MallocMessageBuilder message;
  auto item = message.initRoot<schema::Item>();
  testing::fill_sample_item(item);
  item.getId()[15] = id_tail;
  item.setSource(source);
  return wire::item_to_json(item.asReader());
}

TEST_F(SendTest, SendsFilesAndReportsEveryAck) {
  write(dir_.file("a.json"), sample_json(1));
  write(dir_.file("b.json"), sample_json(2));
  write(dir_.file("c.json"), sample_json(3));
  EXPECT_EQ(send(options({dir_.file("a.json"), dir_.file("b.json"), dir_.file("c.json")})),
            exit_ok);
  EXPECT_EQ(*inbox_->pending(), 3u);
}

TEST_F(SendTest, RejectedAndInvalidItemsMakeExitOne) {
  write(dir_.file("good.json"), sample_json(1));
  write(dir_.file("forged.json"), sample_json(2, "someone-else"));
  write(dir_.file("broken.json"), "{\"id\": 3}");
  EXPECT_EQ(
      send(options({dir_.file("good.json"), dir_.file("forged.json"), dir_.file("broken.json")})),
      exit_failed);
  EXPECT_EQ(*inbox_->pending(), 1u);
  EXPECT_EQ(server_->counters().rejected_unknown_source.load(), 1u);
}

TEST_F(SendTest, WrongKeyIsAnAuthenticationFailure) {
  ASSERT_EQ(curve_keygen(dir_.file("stranger.key")), exit_ok);
  auto o = options({"-"});
  o.key_file = dir_.file("stranger.key");
  EXPECT_EQ(send(o), exit_failed);
  EXPECT_EQ(*inbox_->pending(), 0u);
}

TEST_F(SendTest, StixBundleIsSentObjectByObject) {
  const std::string bundle =
      std::string(CG_TEST_DATA_DIR) + "/stix/indicators-for-C2-with-COA.json";
  std::ifstream in(bundle);
  ASSERT_TRUE(in) << bundle;
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  stix::Options so;
  so.source = "il-sigint-1";
  so.policy_id = "cell";
  so.levels = {"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"};
  auto expected = stix::to_items(text, so);
  ASSERT_TRUE(expected.ok()) << expected.status().reason();
  ASSERT_GT(expected->items.size(), 1u);

  auto o = options({bundle});
  o.stix = true;
  o.stix_source = "il-sigint-1";
  EXPECT_EQ(send(o), exit_ok);
  EXPECT_EQ(*inbox_->pending(), expected->items.size());
}

TEST_F(SendTest, StixBundleWithAnUnknownMarkingIsNotSentAtAll) {
  auto o = options({std::string(CG_TEST_DATA_DIR) + "/stix/interop-objectmarking-test.json"});
  o.stix = true;
  o.stix_source = "il-sigint-1";
  EXPECT_EQ(send(o), exit_failed);
  EXPECT_EQ(*inbox_->pending(), 0u);
}

}  // namespace
}  // namespace cg::cli
