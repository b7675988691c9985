// The release guard as a process of its own (issue 17), in a cell of processes on loopback:
//   - a deliberately broken filter (cellgate-broken-filter: the gateway role compiled with
//     CG_BROKEN_FILTER_FOR_TESTS, never part of cellgate) releases a TLP:RED portion, a portion
//     it says it removed, redacted portions under the original banner, and a deny term; the
//     separate guard (il-guard-1, `cellgate run`) refuses each, the filter holds each with
//     both verdicts (quarantine and audit), and nothing but the one good item crosses;
//   - the filter holds no key the relay accepts: an envelope it makes with a key of its own
//     (it has the link key) is refused by the relay as a forged origin.
// No timing assertions: waits are bounded and end on progress.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "bench/lab/deploy/deploy.h"
#include "bench/lab/deploy/process.h"
#include "crypto/keys.h"
#include "gateway/audit/audit.h"
#include "gateway/common/clock.h"
#include "gateway/envelope/envelope.h"
#include "gateway/ingest/ingest.h"
#include "gateway/link/link.h"
#include "gateway/quarantine/quarantine.h"
#include "gateway/store/store.h"
#include "gateway/wire/wire.h"
#include "tests/support/temp_dir.h"

namespace cg {
namespace {

using namespace std::chrono_literals;

std::string item_json(int n, const std::string& topic, const std::string& banner,
                      const std::string& portions) {
  char id[33];
  std::snprintf(id, sizeof id, "%032x", n);
  return std::string("{\"id\": \"") + id +
         "\", \"source\": \"il-src-1\", \"kind\": \"intelligence\", \"precedence\": \"routine\", "
         "\"created\": \"" +
         wire::format_rfc3339(SystemClock().now_ns()) + "\", \"banner\": " + banner +
         ", \"topics\": [\"border\"" + (topic.empty() ? "" : ", \"" + topic + "\"") +
         "], \"portions\": [" + portions + "]}";
}

std::string label(int level, const char* tlp) {
  return "{\"policy\": \"cell-2026\", \"classification\": " + std::to_string(level) +
         ", \"tlp\": \"" + tlp + "\"}";
}

std::string portion(const char* name, const std::string& l, const char* body) {
  return std::string("{\"name\": \"") + name +
         "\", \"content_type\": \"text/plain\", \"label\": " + l + ", \"body\": \"" + body + "\"}";
}

class GuardCellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    deploy::Options o;
    o.dir = dir_.file("cell");
    o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
    o.separate_guard = true;
    auto c = deploy::create(o);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    cell_ = std::move(*c);
  }
  std::string log_of(const std::string& id) {
    auto b = crypto::read_file(dir_.file(id + ".log"), 1u << 20);
    return b.ok() ? std::string(b->begin(), b->end()) : std::string();
  }
  void start(const std::string& id, std::vector<std::string> argv, std::uint16_t metrics_port) {
    auto p = deploy::NodeProcess::start_argv(argv, dir_.file(id + ".log"));
    ASSERT_TRUE(p.ok()) << p.status().reason();
    nodes_[id] = std::move(*p);
    auto up = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(metrics_port), 60'000);
    ASSERT_TRUE(up.ok()) << id << ": " << up.reason() << "\n" << log_of(id);
    ports_[id] = metrics_port;
  }
  double metric(const std::string& id, const std::string& sample) {
    auto text = deploy::scrape("127.0.0.1:" + std::to_string(ports_[id]), 5000);
    if (!text.ok()) return -1;
    return deploy::metric(*text, sample).value_or(-1);
  }
  void wait_metric(const std::string& id, const std::string& sample, double want) {
    for (int i = 0; i < 600 && metric(id, sample) < want; ++i) std::this_thread::sleep_for(50ms);
  }
  void stop_all() {
    for (const char* id : {"il-gw-1", "il-guard-1", "us-relay", "sy-rx-1"}) {
      auto it = nodes_.find(id);
      if (it == nodes_.end()) continue;
      EXPECT_EQ(it->second->terminate(30'000), 0) << id << " did not exit cleanly\n" << log_of(id);
    }
    nodes_.clear();
  }

  testing::TempDir dir_{"cg-guard-cell"};
  deploy::Deployment cell_;
  std::map<std::string, std::unique_ptr<deploy::NodeProcess>> nodes_;
  std::map<std::string, std::uint16_t> ports_;
};

TEST_F(GuardCellTest, TheGuardRefusesABrokenFiltersReleasesAndNothingCrosses) {
  const std::string run = CG_CELLGATE_BINARY;
  ASSERT_NO_FATAL_FAILURE(start("sy-rx-1", {run, "run", "--config", cell_.receiver_config},
                                cell_.receiver_metrics_port));
  ASSERT_NO_FATAL_FAILURE(
      start("us-relay", {run, "run", "--config", cell_.relay_config}, cell_.relay_metrics_port));
  ASSERT_NO_FATAL_FAILURE(
      start("il-guard-1", {run, "run", "--config", cell_.guard_config}, cell_.guard_metrics_port));
  ASSERT_NO_FATAL_FAILURE(start("il-gw-1", {CG_BROKEN_FILTER_BINARY, cell_.gateway_config},
                                cell_.gateway_metrics_port));

  // sy may receive up to RESTRICTED (level 1); the rule for border intelligence drops what is
  // above it. Each broken case is one item; the last one is fine and must cross.
  const std::string open = label(0, "green");
  const std::vector<std::string> items = {
      item_json(1, "test-break-red", label(0, "red"),
                portion("summary", open, "Patrol sighted at the fence.") + "," +
                    portion("detail", label(0, "red"), "Names of the patrol members.")),
      item_json(2, "test-break-unremoved", label(2, "green"),
                portion("summary", open, "Convoy moving north.") + "," +
                    portion("secret", label(2, "green"), "Convoy composition and route.")),
      item_json(3, "test-break-banner", label(2, "green"),
                portion("summary", open, "Convoy moving south.") + "," +
                    portion("secret", label(2, "green"), "Convoy escort strength.")),
      item_json(4, "test-break-deny", open,
                portion("summary", open, "Operation FALCON VEIL starts at dawn.")),
      item_json(5, "", open, portion("summary", open, "Smugglers seen crossing at the ford.")),
  };
  auto client = ingest::SourceClient::connect(cell_.ingest_endpoint, cell_.gateway_curve_public,
                                              cell_.source, 30'000);
  ASSERT_TRUE(client.ok()) << client.status().reason();
  for (const auto& json : items) {
    auto item = wire::item_from_json(json);
    ASSERT_TRUE(item.ok()) << item.status().reason() << "\n" << json;
    ASSERT_TRUE((*client)->send(wire::to_flat_bytes(*item), 30'000).ok());
    auto ack = (*client)->receive_ack(30'000);
    ASSERT_TRUE(ack.ok()) << ack.status().reason();
    ASSERT_TRUE(ack->accepted) << ack->reason << ": " << ack->detail;
  }
  const std::string gw = "{node=\"il-gw-1\"}", guard = "{node=\"il-guard-1\"}";
  wait_metric("il-gw-1", "cellgate_gateway_guard_refused_total" + gw, 4);
  wait_metric("us-relay", "cellgate_relay_relayed_total{node=\"us-relay\"}", 1);
  EXPECT_EQ(metric("il-gw-1", "cellgate_gateway_guard_refused_total" + gw), 4.0)
      << log_of("il-gw-1") << log_of("il-guard-1");
  EXPECT_EQ(metric("il-guard-1", "cellgate_guard_refused_total" + guard), 4.0);
  EXPECT_EQ(metric("il-guard-1", "cellgate_guard_signed_total" + guard), 1.0);
  EXPECT_EQ(metric("us-relay", "cellgate_relay_relayed_total{node=\"us-relay\"}"), 1.0);

  // The filter has the link key but no key the relay accepts: what it signs itself is forged.
  const std::string keys = cell_.dir + "/keys/";
  const auto& suite = crypto::modern_suite();
  SystemClock clock;
  const auto own_key = suite.generate_signing_key();
  const envelope::Signer forger{"il-gw-1", &suite, own_key.get(),
                                crypto::key_id(suite.id(), own_key->public_key())};
  auto epoch = envelope::start_epoch(
      forger, "sy", 0, 42, 1'000'000,
      crypto::read_public_key_file(keys + "sy-rx-1.kx.pub")->public_key, nullptr, clock.now_ns());
  ASSERT_TRUE(epoch.ok()) << epoch.status().reason();
  auto good = wire::item_from_json(items.back());
  envelope::HeaderFields f;
  f.destination = "sy";
  f.seq = 1'000'000;
  f.time_ns = clock.now_ns();
  f.kind = good->root().getKind();
  f.rules_version = 1;
  f.rules_hash.assign(32, 0);
  auto sealed = envelope::seal(forger, f, epoch->key, good->canonical_bytes());
  ASSERT_TRUE(sealed.ok()) << sealed.status().reason();
  auto forged = envelope::sign_batch(forger, 1, std::span(&*sealed, 1));
  ASSERT_TRUE(forged.ok());
  {
    auto link_key = *crypto::read_link_key_file(keys + "il-us.link");
    link::SenderOptions so;
    so.settings.link_id = 1;
    auto tx = *link::UdpSender::open(so, "127.0.0.1:" + std::to_string(cell_.relay_link_in_port),
                                     link_key, clock);
    ASSERT_TRUE(tx->submit(1'000'000, (*forged)[0]).ok());
    const std::string s = "cellgate_relay_refused_total{node=\"us-relay\",reason=\"origin\"}";
    wait_metric("us-relay", s, 1);
    EXPECT_EQ(metric("us-relay", s), 1.0) << log_of("us-relay");
    tx->stop();
  }
  EXPECT_EQ(metric("us-relay", "cellgate_relay_relayed_total{node=\"us-relay\"}"), 1.0)
      << "nothing but the good item crossed";
  EXPECT_EQ(metric("sy-rx-1", "cellgate_receiver_stored_total{node=\"sy-rx-1\"}"), 1.0);
  stop_all();

  // Each refused item is held with both verdicts and audited as the guard's refusal.
  auto env = store::Env::open({.path = cell_.gateway_store, .read_only = true});
  ASSERT_TRUE(env.ok());
  auto q = quarantine::Quarantine::open(**env);
  ASSERT_TRUE(q.ok());
  auto held = q->list(0, 100);
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 4u);
  std::set<std::string> hows;
  for (const auto& h : *held) {
    EXPECT_NE(h.explanation.find("filter: released"), std::string::npos) << h.explanation;
    EXPECT_NE(h.explanation.find("guard: refused: "), std::string::npos) << h.explanation;
    hows.insert(h.explanation.substr(
        h.explanation.find('\n') + 1,
        h.explanation.find('\n', h.explanation.find('\n') + 1) - h.explanation.find('\n') - 1));
  }
  EXPECT_EQ(hows, (std::set<std::string>{"red", "unremoved", "banner", "deny"}));
  std::size_t refused_records = 0;
  auto report = audit::verify(**env, [&](std::uint64_t, schema::AuditRecord::Reader r) {
    if (r.getEvent() == schema::AuditEvent::QUARANTINED &&
        std::string_view(r.getReason().cStr()) == "guard refused")
      ++refused_records;
  });
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->broken_at.has_value());
  EXPECT_EQ(refused_records, 4u);
}

}  // namespace
}  // namespace cg
