// `cellgate tail` against an in-process delivery server on loopback.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gateway/cli/cli.h"
#include "gateway/deliver/deliver.h"
#include "gateway/ingest/ingest.h"
#include "gateway/stix/stix.h"
#include "tests/support/items.h"

namespace cg::cli {
namespace {

TEST(Tail, PrintsAndAcknowledgesEachItem) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cg-tail-XXXXXX").string();
  const std::string dir = ::mkdtemp(tmpl.data());
  auto env = *store::Env::open({.path = dir + "/store"});
  auto outbox = *deliver::Outbox::open(*env);
  capnp::MallocMessageBuilder message;
  testing::fill_sample_item(message.initRoot<schema::Item>());
  auto item = wire::canonical(message.getRoot<schema::Item>().asReader());
  {
    auto txn = env->begin_write();
    for (std::uint64_t seq = 1; seq <= 3; ++seq) {
      ASSERT_TRUE(outbox.enqueue(*txn, "il-gw-1", 1, seq, seq + 100, item.canonical_bytes()).ok());
    }
    ASSERT_TRUE(txn->commit().ok());
  }
  ASSERT_EQ(curve_keygen(dir + "/consumer.key"), exit_ok);
  std::ifstream in(dir + "/consumer.key");
  std::string secret;
  std::getline(in, secret);
  auto server_keys = ingest::curve_keypair();
  deliver::ServerOptions o;
  o.secret_z85 = server_keys.secret_z85;
  o.consumers = {{"analyst", *ingest::curve_public(secret)}};
  SystemClock clock;
  deliver::DeliveryServer server(o, outbox, clock);
  ASSERT_TRUE(server.start().ok());

  TailOptions t{.receiver = server.endpoint(),
                .receiver_key = server_keys.public_z85,
                .key_file = dir + "/consumer.key",
                .window = 2,
                .count = 3,
                .timeout_ms = 10'000};
  EXPECT_EQ(tail(t), exit_ok);
  for (int i = 0; i < 200 && *outbox.size() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(*outbox.size(), 0u);
  server.stop();
  std::filesystem::remove_all(dir);
}

TEST(Tail, DeliversStixBundlesWithTheReleasedMarkings) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cg-tail-XXXXXX").string();
  const std::string dir = ::mkdtemp(tmpl.data());
  auto env = *store::Env::open({.path = dir + "/store"});
  auto outbox = *deliver::Outbox::open(*env);
  std::ifstream sample(std::string(CG_TEST_DATA_DIR) + "/stix/indicator-for-c2-ip-address.json");
  ASSERT_TRUE(sample);
  const std::string text((std::istreambuf_iterator<char>(sample)), {});
  stix::Options so;
  so.source = "il-sigint-1";
  so.policy_id = "cell";
  so.levels = {"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"};
  auto mapped = stix::to_items(text, so);
  ASSERT_TRUE(mapped.ok()) << mapped.status().reason();
  {
    auto txn = env->begin_write();
    std::uint64_t seq = 0;
    for (const auto& m : mapped->items) {
      ++seq;
      ASSERT_TRUE(outbox.enqueue(*txn, "il-gw-1", 1, seq, seq, m.canonical_bytes()).ok());
    }
    ASSERT_TRUE(txn->commit().ok());
  }
  ASSERT_EQ(curve_keygen(dir + "/consumer.key"), exit_ok);
  std::ifstream in(dir + "/consumer.key");
  std::string secret;
  std::getline(in, secret);
  auto server_keys = ingest::curve_keypair();
  deliver::ServerOptions o;
  o.secret_z85 = server_keys.secret_z85;
  o.consumers = {{"analyst", *ingest::curve_public(secret)}};
  SystemClock clock;
  deliver::DeliveryServer server(o, outbox, clock);
  ASSERT_TRUE(server.start().ok());
  TailOptions t{.receiver = server.endpoint(),
                .receiver_key = server_keys.public_z85,
                .key_file = dir + "/consumer.key",
                .window = 4,
                .count = mapped->items.size(),
                .timeout_ms = 10'000};
  t.format = "stix";
  ::testing::internal::CaptureStdout();
  const int rc = tail(t);
  const std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(rc, exit_ok);
  EXPECT_NE(out.find("\"type\":\"bundle\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"type\":\"indicator\""), std::string::npos) << out;
  // Each delivered bundle reads back as the same items.
  std::size_t lines = 0, start = 0;
  for (std::size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    auto back = stix::to_items(out.substr(start, nl - start), so);
    EXPECT_TRUE(back.ok()) << back.status().reason();
    ++lines;
  }
  EXPECT_EQ(lines, mapped->items.size());
  server.stop();
  std::filesystem::remove_all(dir);
}

// Issue 15, class 10: with --format stix, stdout is STIX only. An item that did not come from
// STIX goes to stderr as its JSON line, after a warning; every stdout line is a bundle valid
// against the OASIS STIX 2.1 JSON schemas, with a version-4 UUID id.
TEST(Tail, StixModeKeepsStdoutPureStix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "cg-tail-XXXXXX").string();
  const std::string dir = ::mkdtemp(tmpl.data());
  auto env = *store::Env::open({.path = dir + "/store"});
  auto outbox = *deliver::Outbox::open(*env);
  stix::Options so;
  so.source = "il-sigint-1";
  so.policy_id = "cell";
  so.levels = {"UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET"};
  auto mapped = stix::to_items(
      R"({"type": "campaign", "id": "campaign--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "spec_version": "2.1",
          "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "x",
          "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]})",
      so);
  ASSERT_TRUE(mapped.ok()) << mapped.status().reason();
  capnp::MallocMessageBuilder message;
  testing::fill_sample_item(message.initRoot<schema::Item>());
  auto plain = wire::canonical(message.getRoot<schema::Item>().asReader());
  {
    auto txn = env->begin_write();
    ASSERT_TRUE(outbox.enqueue(*txn, "il-gw-1", 1, 1, 1, mapped->items[0].canonical_bytes()).ok());
    ASSERT_TRUE(outbox.enqueue(*txn, "il-gw-1", 1, 2, 2, plain.canonical_bytes()).ok());
    ASSERT_TRUE(txn->commit().ok());
  }
  ASSERT_EQ(curve_keygen(dir + "/consumer.key"), exit_ok);
  std::ifstream in(dir + "/consumer.key");
  std::string secret;
  std::getline(in, secret);
  auto server_keys = ingest::curve_keypair();
  deliver::ServerOptions o;
  o.secret_z85 = server_keys.secret_z85;
  o.consumers = {{"analyst", *ingest::curve_public(secret)}};
  SystemClock clock;
  deliver::DeliveryServer server(o, outbox, clock);
  ASSERT_TRUE(server.start().ok());
  TailOptions t{.receiver = server.endpoint(),
                .receiver_key = server_keys.public_z85,
                .key_file = dir + "/consumer.key",
                .window = 4,
                .count = 2,
                .timeout_ms = 10'000};
  t.format = "stix";
  t.levels = so.levels;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  const int rc = tail(t);
  const std::string err = ::testing::internal::GetCapturedStderr();
  const std::string out = ::testing::internal::GetCapturedStdout();
  server.stop();
  EXPECT_EQ(rc, exit_ok) << err;
  ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(out.rfind("{\"type\":\"bundle\",\"id\":\"bundle--", 0), 0u) << out;
  const std::size_t uuid_at = std::string("{\"type\":\"bundle\",\"id\":\"bundle--").size();
  EXPECT_EQ(out.substr(uuid_at + 14, 1), "4") << out;  // the UUID's version nibble
  EXPECT_NE(out.find("\"tlp_2_0\":\"green\""), std::string::npos) << out;
  EXPECT_NE(err.find("tail: warning: item "), std::string::npos) << err;
  EXPECT_NE(err.find("{\"origin\":\"il-gw-1\""), std::string::npos) << err;
  const std::string bundles = dir + "/stdout.jsonl";
  std::ofstream(bundles) << out;
  const std::string cmd = std::string("/usr/bin/python3 ") + CG_SOURCE_DIR +
                          "/tests/stix/validate_bundles.py " + CG_TEST_DATA_DIR +
                          "/stix2-json-schemas/schemas " + bundles;
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cg::cli
