// Guards a running node keeps, tried with real `cellgate run` processes on loopback:
//   - one node per store: a second `run` on a store in use refuses to start, naming the
//     holder's pid, with a non-zero exit, and the first keeps running;
//   - an over-limit message at ingest is answered `tooLarge`, and the connection stays usable;
//   - the trust root's succession (issue 17, TUF §5.3) is the running node's own check: a
//     successor its pinned root's keys did not sign is refused while the node runs on, an
//     accepted one restarts it under the new root, and the old root is then a rollback that
//     neither the running node, nor `config check`, nor a restart accepts; the audit chain
//     records the pin, each refusal and the rotation.
// No timing assertions: waits are bounded and end on progress.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "bench/lab/deploy/deploy.h"
#include "bench/lab/deploy/process.h"
#include "crypto/keys.h"
#include "gateway/approval/approval.h"
#include "gateway/audit/audit.h"
#include "gateway/ingest/ingest.h"
#include "gateway/store/store.h"
#include "gateway/wire/wire.h"
#include "tests/support/temp_dir.h"

namespace cg {
namespace {

using namespace std::chrono_literals;

class NodeGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deploy::Options o;
    o.dir = dir_.file("cell");
    o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
    auto c = deploy::create(o);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    cell_ = std::move(*c);
  }
  std::string log_of(const std::string& name) {
    auto b = crypto::read_file(dir_.file(name), 1u << 20);
    return b.ok() ? std::string(b->begin(), b->end()) : std::string();
  }
  std::unique_ptr<deploy::NodeProcess> start_gateway(const std::string& log) {
    auto p = deploy::NodeProcess::start(CG_CELLGATE_BINARY, cell_.gateway_config, dir_.file(log));
    EXPECT_TRUE(p.ok()) << p.status().reason();
    return p.ok() ? std::move(*p) : nullptr;
  }

  // Waits (at most `polls` × 100 ms) until the log `name` contains `text`.
  bool wait_for_log(const std::string& name, const std::string& text, int polls = 600) {
    for (int i = 0; i < polls; ++i) {
      if (log_of(name).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }
  // The deployment's trust root again under `version`, signed by `signers` only.
  std::vector<std::uint8_t> root_version(std::uint64_t version,
                                         const std::vector<const crypto::SigningKey*>& signers) {
    auto bytes = crypto::read_file(cell_.trust_root_file, 1u << 20);
    EXPECT_TRUE(bytes.ok());
    auto m = wire::decode_message<schema::TrustRoot>(*bytes, wire::trust_root_limits);
    EXPECT_TRUE(m.ok()) << m.status().reason();
    capnp::MallocMessageBuilder mb;
    auto r = mb.initRoot<schema::TrustRoot>();
    r.setBody(m->root().getBody());
    r.getBody().setVersion(version);
    auto message = wire::canonical(r.asReader());
    for (const auto* k : signers) {
      const crypto::Suite& suite = **crypto::suite(k->suite());
      auto next = approval::add_root_signature(
          message.root(), crypto::key_id(suite.id(), k->public_key()),
          [k, &suite](approval::Bytes msg) -> Result<std::vector<std::uint8_t>> {
            std::vector<std::uint8_t> sig(suite.signature_bytes());
            CG_RETURN_IF_ERROR(k->sign(msg, sig));
            return sig;
          });
      EXPECT_TRUE(next.ok()) << next.status().reason();
      message = std::move(*next);
    }
    return wire::to_flat_bytes(message);
  }
  // Replaces the trust-root file the way an operator should: a new file renamed over it.
  void install_root(const std::vector<std::uint8_t>& bytes) {
    Status s = crypto::write_file(cell_.trust_root_file, bytes, 0644);
    ASSERT_TRUE(s.ok()) << s.reason();
  }
  std::size_t count_in_log(const std::string& name, const std::string& text) {
    const std::string log = log_of(name);
    std::size_t n = 0;
    for (auto at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++n;
    return n;
  }
  // `cellgate config check` of the gateway's config: (exit status, output).
  std::pair<int, std::string> config_check(const std::string& out) {
    auto p = deploy::NodeProcess::start_argv(
        {CG_CELLGATE_BINARY, "config", "check", cell_.gateway_config}, dir_.file(out));
    EXPECT_TRUE(p.ok());
    if (!p.ok()) return {-1, ""};
    for (int i = 0; i < 6000 && (*p)->running(); ++i) std::this_thread::sleep_for(10ms);
    return {(*p)->exit_status().value_or(-1), log_of(out)};
  }

  testing::TempDir dir_{"cg-guard"};
  deploy::Deployment cell_;
};

TEST_F(NodeGuardTest, ASecondNodeOnAStoreInUseRefusesToStartNamingTheHolder) {
  auto first = start_gateway("first.log");
  ASSERT_TRUE(first);
  auto up = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 60'000);
  ASSERT_TRUE(up.ok()) << up.reason() << "\n" << log_of("first.log");

  auto second = start_gateway("second.log");
  ASSERT_TRUE(second);
  for (int i = 0; i < 6000 && second->running(); ++i) std::this_thread::sleep_for(10ms);
  ASSERT_FALSE(second->running()) << "a second node on the same store kept running\n"
                                  << log_of("second.log");
  EXPECT_EQ(second->exit_status(), 1) << log_of("second.log");
  EXPECT_NE(log_of("second.log")
                .find("is in use by another node (pid " + std::to_string(first->pid()) + ")"),
            std::string::npos)
      << log_of("second.log");

  EXPECT_TRUE(first->running()) << log_of("first.log");
  EXPECT_TRUE(
      deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 5'000).ok());
  EXPECT_EQ(first->terminate(30'000), 0) << log_of("first.log");

  // The lock ends with its holder: the store can be run again.
  auto third = start_gateway("third.log");
  ASSERT_TRUE(third);
  up = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 60'000);
  EXPECT_TRUE(up.ok()) << up.reason() << "\n" << log_of("third.log");
  EXPECT_EQ(third->terminate(30'000), 0) << log_of("third.log");
}

// Issue 15: a 2 MiB message got no ack and its connection was dropped. The running gateway now
// answers tooLarge, and the connection stays: a later message gets its own answer on it.
TEST_F(NodeGuardTest, ATwoMebibyteMessageIsAnsweredTooLarge) {
  auto gw = start_gateway("gw.log");
  ASSERT_TRUE(gw);
  auto up = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(cell_.gateway_metrics_port), 60'000);
  ASSERT_TRUE(up.ok()) << up.reason() << "\n" << log_of("gw.log");
  auto client = ingest::SourceClient::connect(cell_.ingest_endpoint, cell_.gateway_curve_public,
                                              cell_.source, 30'000);
  ASSERT_TRUE(client.ok()) << client.status().reason();
  for (std::size_t size : {std::size_t{2} << 20, (std::size_t{2} << 20) + 1000}) {
    ASSERT_TRUE((*client)->send(std::vector<std::uint8_t>(size, 0x42), 30'000).ok());
    auto ack = (*client)->receive_ack(30'000);
    ASSERT_TRUE(ack.ok()) << size << ": " << ack.status().reason() << "\n" << log_of("gw.log");
    EXPECT_FALSE(ack->accepted);
    EXPECT_EQ(ack->reason, "tooLarge") << ack->detail;
  }
  // Still connected: a small message gets its (malformed) answer on the same connection.
  ASSERT_TRUE((*client)->send(std::vector<std::uint8_t>(24, 0xff), 30'000).ok());
  auto ack = (*client)->receive_ack(30'000);
  ASSERT_TRUE(ack.ok()) << ack.status().reason();
  EXPECT_EQ(ack->reason, "malformed");
  EXPECT_EQ(gw->terminate(30'000), 0) << log_of("gw.log");
}

}  // namespace
}  // namespace cg

namespace cg {
namespace {

TEST_F(NodeGuardTest, TheRunningNodeEnforcesTheTrustRootsSuccession) {
  const std::string metrics = "127.0.0.1:" + std::to_string(cell_.gateway_metrics_port);
  const std::vector<std::uint8_t> v1 = *crypto::read_file(cell_.trust_root_file, 1u << 20);
  auto gw = start_gateway("gw.log");
  ASSERT_TRUE(gw);
  ASSERT_TRUE(deploy::wait_for_tcp(metrics, 60'000).ok()) << log_of("gw.log");

  // v2 signed by a root key nobody listed: the pinned root never approved it.
  auto mallory = (*crypto::suite(crypto::SuiteId::modern))->generate_signing_key();
  install_root(root_version(2, {mallory.get()}));
  ASSERT_TRUE(wait_for_log("gw.log", "changed: REFUSED")) << log_of("gw.log");
  EXPECT_NE(log_of("gw.log").find("successor v2 refused"), std::string::npos) << log_of("gw.log");
  EXPECT_TRUE(gw->running()) << log_of("gw.log");
  EXPECT_TRUE(deploy::wait_for_tcp(metrics, 5'000).ok()) << "the node goes on under v1";
  auto [check_forged, check_forged_out] = config_check("check-forged.out");
  EXPECT_NE(check_forged, 0) << check_forged_out;
  EXPECT_NE(check_forged_out.find("successor v2 refused"), std::string::npos) << check_forged_out;

  // v2 signed by the deployment's root key (the old root's threshold, and its own): the node
  // restarts under it, in the same process.
  auto root_key = crypto::load_signing_key_file(cell_.dir + "/keys/root/root-1.sign", nullptr,
                                                /*allow_unencrypted=*/true);
  ASSERT_TRUE(root_key.ok()) << root_key.status().reason();
  install_root(root_version(2, {root_key->get()}));
  ASSERT_TRUE(wait_for_log("gw.log", "trust root v2 accepted as the successor of v1 and pinned"))
      << log_of("gw.log");
  EXPECT_NE(log_of("gw.log").find("the node restarts under it"), std::string::npos);
  for (int i = 0; i < 600 && count_in_log("gw.log", "gateway running") < 2; ++i)
    std::this_thread::sleep_for(100ms);
  ASSERT_EQ(count_in_log("gw.log", "gateway running"), 2u) << log_of("gw.log");
  EXPECT_TRUE(gw->running()) << log_of("gw.log");
  EXPECT_TRUE(deploy::wait_for_tcp(metrics, 60'000).ok()) << log_of("gw.log");

  // v1 again: a rollback, refused by the running node, by config check, and at start.
  install_root(v1);
  ASSERT_TRUE(wait_for_log("gw.log", "a rollback is refused")) << log_of("gw.log");
  EXPECT_TRUE(gw->running()) << log_of("gw.log");
  {
    auto text = deploy::scrape(metrics, 5000);
    ASSERT_TRUE(text.ok()) << text.status().reason();
    EXPECT_EQ(deploy::metric(*text, "cellgate_trust_root_refused_total{node=\"il-gw-1\"}"), 2.0)
        << "the forgery and the rollback; the count lives as long as the process";
  }
  auto [check_old, check_old_out] = config_check("check-old.out");
  EXPECT_NE(check_old, 0) << check_old_out;
  EXPECT_NE(check_old_out.find("a rollback is refused"), std::string::npos) << check_old_out;
  EXPECT_EQ(gw->terminate(30'000), 0) << log_of("gw.log");
  std::printf("--- what the node said\n%s", log_of("gw.log").c_str());
  // The audit chain holds each step: the first pin, the refused forgery, the rotation, the
  // refused rollback, in that order, and the chain is intact.
  {
    auto env = store::Env::open({.path = cell_.gateway_store, .read_only = true});
    ASSERT_TRUE(env.ok()) << env.status().reason();
    std::vector<std::string> steps;
    auto report = audit::verify(**env, [&](std::uint64_t, schema::AuditRecord::Reader r) {
      const std::string reason(wire::view(r.getReason())), detail(wire::view(r.getDetail()));
      if (r.getEvent() == schema::AuditEvent::TRUST_ROOT_LOADED) steps.push_back(reason);
      if (r.getEvent() == schema::AuditEvent::TRUST_ROOT_REFUSED)
        steps.push_back(detail.find("rollback") != std::string::npos ? "refused rollback"
                                                                     : "refused forgery");
    });
    ASSERT_TRUE(report.ok()) << report.status().reason();
    EXPECT_FALSE(report->broken_at.has_value()) << report->problem;
    EXPECT_EQ(steps, (std::vector<std::string>{"pinned", "refused forgery", "rotated",
                                               "refused rollback"}));
  }
  auto again = start_gateway("again.log");
  ASSERT_TRUE(again);
  for (int i = 0; i < 6000 && again->running(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(again->running()) << "a node started on a rolled-back trust root";
  EXPECT_NE(again->exit_status().value_or(0), 0);
  EXPECT_NE(log_of("again.log").find("a rollback is refused"), std::string::npos)
      << log_of("again.log");
}

}  // namespace
}  // namespace cg
