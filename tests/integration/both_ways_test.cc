// The cell in both directions (issue 10), as an operator runs it: il-gw-1 → us-relay → sy-rx-1
// and sy-gw-1 → us-relay → il-rx-1, five `cellgate run` processes on loopback, each receiver
// a source of its own party's gateway.
//
//   - every link through a loss proxy dropping 20 % of datagrams at random and a burst of 120 in
//     every 1,500 (far beyond what the 64+16
//     Reed–Solomon blocks recover): everything the policies release is delivered, in both
//     directions, by gap recovery — receivers report what stays missing through their own
//     party's gateway, the relay forwards the reports, the origin gateways re-send unchanged —
//     and the recovered counts are reported;
//   - a relay that forks its log — two relay processes with the relay's one identity and key,
//     one forwarding il → sy with its own log, the other sy → il with another — is detected by
//     both parties (their receivers compare the tree heads the other quotes in its reports),
//     and `cellgate audit check-consistency` says so.
//
// Item counts can be lowered with CG_CELL_ITEMS. No timing assertions: waits end on progress.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "bench/lab/deploy/deploy.h"
#include "bench/lab/deploy/process.h"
#include "bench/lab/traffic/traffic.h"
#include "crypto/keys.h"
#include "tests/sim/udp_loss_proxy.h"
#include "tests/support/cell_items.h"
#include "tests/support/temp_dir.h"

namespace cg {
namespace {

using namespace std::chrono_literals;

using testing::items_from_env;

std::string read_text(const std::string& path) {
  auto b = crypto::read_file(path, 1u << 20);
  return b.ok() ? std::string(b->begin(), b->end()) : std::string();
}

// One direction's traffic: a source at the origin gateway, a consumer at the far receiver,
// and what the origin's policy must make of every item.
struct Direction {
  std::string name;
  std::unique_ptr<traffic::Expectations> expect;
  traffic::SourceOptions source;
  traffic::ConsumerOptions consumer;
  traffic::SourceCounters sc;
  traffic::ConsumerCounters cc;
  std::atomic<bool> stop_source{false}, stop_consumer{false};
  std::thread consumer_thread, source_thread;
  Status consumer_status, source_status;

  std::uint64_t want() const { return expect->totals().accepted_releasable; }
  std::uint64_t got() const { return cc.verified.load() + cc.differing.load(); }
};

class BothWaysTest : public ::testing::Test {
 protected:
  ~BothWaysTest() override {
    for (auto* d : {&il_sy_, &sy_il_}) {
      d->stop_source.store(true);
      d->stop_consumer.store(true);
      if (d->source_thread.joinable()) d->source_thread.join();
      if (d->consumer_thread.joinable()) d->consumer_thread.join();
    }
  }

  void create(const std::map<std::string, std::uint16_t>& peers = {},
              std::uint64_t link_rate_bytes_per_s = 100'000'000) {
    deploy::Options o;
    o.dir = dir_.file("cell");
    o.policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/il-policy.toml";
    o.sy_policy_file = std::string(CG_SOURCE_DIR) + "/gateway/policy/examples/sy-policy.toml";
    o.both_directions = true;
    o.link_peer_ports = peers;
    o.link_rate_bytes_per_s = link_rate_bytes_per_s;
    o.report_after_ms = 1500;
    o.rereport_after_ms = 2500;
    o.gossip_interval_ms = 1000;
    auto c = deploy::create(o);
    ASSERT_TRUE(c.ok()) << c.status().reason();
    cell_ = std::move(*c);
    ASSERT_TRUE(cell_.reverse);
    const auto& r = *cell_.reverse;
    nodes_spec_ = {{"il-gw-1", {cell_.gateway_config, cell_.gateway_metrics_port}},
                   {"us-relay", {cell_.relay_config, cell_.relay_metrics_port}},
                   {"sy-rx-1", {cell_.receiver_config, cell_.receiver_metrics_port}},
                   {"sy-gw-1", {r.gateway_config, r.gateway_metrics_port}},
                   {"il-rx-1", {r.receiver_config, r.receiver_metrics_port}}};
    setup(il_sy_, "il->sy", read_text(cell_.policy_file), "sy", cell_.ingest_endpoint,
          cell_.gateway_curve_public, cell_.source, cell_.source_id, cell_.deliver_endpoint,
          cell_.receiver_curve_public, cell_.consumer, 1);
    setup(sy_il_, "sy->il", read_text(r.policy_file), "il", r.ingest_endpoint,
          r.gateway_curve_public, r.source, r.source_id, r.deliver_endpoint,
          r.receiver_curve_public, r.consumer, 2);
  }

  void setup(Direction& d, const std::string& name, const std::string& policy,
             const std::string& destination, const std::string& ingest,
             const std::string& gateway_key, const ingest::KeyPair& source,
             const std::string& source_id, const std::string& deliver,
             const std::string& receiver_key, const ingest::KeyPair& consumer, std::uint64_t seed) {
    d.name = name;
    auto e = traffic::Expectations::create(policy, destination);
    ASSERT_TRUE(e.ok()) << e.status().reason();
    d.expect = std::move(*e);
    d.source.endpoint = ingest;
    d.source.server_public_z85 = gateway_key;
    d.source.keys = source;
    d.source.source_id = source_id;
    d.source.seed = seed;
    d.source.body_bytes = 512;
    d.consumer.endpoint = deliver;
    d.consumer.server_public_z85 = receiver_key;
    d.consumer.keys = consumer;
  }

  void start(const std::string& id) {
    const auto& [config, port] = nodes_spec_.at(id);
    auto p = deploy::NodeProcess::start(CG_CELLGATE_BINARY, config, dir_.file(id + ".log"));
    ASSERT_TRUE(p.ok()) << p.status().reason();
    nodes_[id] = std::move(*p);
    auto s = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(port), 60'000);
    ASSERT_TRUE(s.ok()) << id << ": " << s.reason() << "\n" << log_of(id);
  }
  void start_all() {
    for (const char* id : {"sy-rx-1", "il-rx-1", "us-relay", "il-gw-1", "sy-gw-1"}) {
      start(id);
      if (HasFatalFailure()) return;
    }
  }
  std::string log_of(const std::string& id) { return read_text(dir_.file(id + ".log")); }
  double metric(const std::string& id, const std::string& name, const std::string& labels = "") {
    auto text = deploy::scrape("127.0.0.1:" + std::to_string(nodes_spec_.at(id).second), 5000);
    if (!text.ok()) return -1;
    const std::string sample = name + "{node=\"" + id + "\"" + labels + "}";
    return deploy::metric(*text, sample).value_or(-1);
  }
  void stop_all() {
    if (HasFailure()) {  // what the nodes said, for whoever reads the failure
      for (auto& [id, p] : nodes_) {
        const std::string log = log_of(id);
        std::printf("--- %s log (last 3000 bytes)\n%s\n", id.c_str(),
                    log.substr(log.size() > 3000 ? log.size() - 3000 : 0).c_str());
      }
    }
    for (auto& [id, p] : nodes_) {
      EXPECT_EQ(p->terminate(30'000), 0) << id << " did not exit cleanly\n" << log_of(id);
    }
    nodes_.clear();
  }

  void run_traffic(Direction& d, std::uint64_t items) {
    d.source.items = items;
    d.consumer_thread = std::thread([&d] {
      d.consumer_status = traffic::run_consumer(d.consumer, *d.expect, d.cc, d.stop_consumer);
    });
    d.source_thread = std::thread(
        [&d] { d.source_status = traffic::run_source(d.source, *d.expect, d.sc, d.stop_source); });
  }
  void finish_sources() {
    for (auto* d : {&il_sy_, &sy_il_}) {
      if (d->source_thread.joinable()) d->source_thread.join();
      EXPECT_TRUE(d->source_status.ok()) << d->name << ": " << d->source_status.reason();
    }
  }
  // Until both consumers have everything, or nothing new arrived in either for `quiet`.
  void wait_delivered(std::chrono::seconds quiet) {
    std::uint64_t last = 0;
    auto changed = std::chrono::steady_clock::now();
    for (;;) {
      const std::uint64_t got = il_sy_.got() + sy_il_.got();
      if (il_sy_.got() >= il_sy_.want() && sy_il_.got() >= sy_il_.want()) return;
      if (got != last) {
        last = got;
        changed = std::chrono::steady_clock::now();
      }
      if (std::chrono::steady_clock::now() - changed > quiet) return;
      std::this_thread::sleep_for(200ms);
    }
  }
  void stop_consumers() {
    for (auto* d : {&il_sy_, &sy_il_}) {
      d->stop_consumer.store(true);
      if (d->consumer_thread.joinable()) d->consumer_thread.join();
      EXPECT_TRUE(d->consumer_status.ok()) << d->name << ": " << d->consumer_status.reason();
    }
  }
  void expect_exactly_what_the_policy_releases(const Direction& d) {
    const auto t = d.expect->totals();
    EXPECT_GT(t.accepted_releasable, 0u) << d.name;
    EXPECT_EQ(d.cc.verified.load(), t.accepted_releasable)
        << d.name << " missing, e.g.: " << ::testing::PrintToString(d.expect->missing(5));
    EXPECT_EQ(d.cc.differing.load(), 0u) << d.name;
    EXPECT_EQ(d.cc.unexpected.load(), 0u) << d.name;
    EXPECT_EQ(d.cc.duplicates.load(), 0u) << d.name << ": one item under two seqs";
  }

  // `items` each way, both delivered exactly as the policies release them.
  void exchange(std::uint64_t items) {
    run_traffic(il_sy_, items);
    run_traffic(sy_il_, items);
    finish_sources();
    wait_delivered(60s);
    expect_exactly_what_the_policy_releases(il_sy_);
    expect_exactly_what_the_policy_releases(sy_il_);
  }
  // Until both receivers count something under `counter` (at most `polls` × 200 ms).
  void wait_both(const std::string& counter, int polls) {
    for (int i = 0; i < polls; ++i) {
      if (metric("il-rx-1", counter) > 0 && metric("sy-rx-1", counter) > 0) return;
      std::this_thread::sleep_for(200ms);
    }
  }

  // Runs `cellgate` to completion; (exit status, output).
  std::pair<int, std::string> cellgate(std::vector<std::string> args) {
    args.insert(args.begin(), CG_CELLGATE_BINARY);
    const std::string out = dir_.file("cmd-" + std::to_string(++commands_) + ".out");
    auto p = deploy::NodeProcess::start_argv(args, out);
    EXPECT_TRUE(p.ok());
    if (!p.ok()) return {-1, ""};
    for (int i = 0; i < 6000 && (*p)->running(); ++i) std::this_thread::sleep_for(10ms);
    return {(*p)->exit_status().value_or(-1), read_text(out)};
  }

  testing::TempDir dir_{"cg-both"};
  deploy::Deployment cell_;
  std::map<std::string, std::pair<std::string, std::uint16_t>> nodes_spec_;
  std::map<std::string, std::unique_ptr<deploy::NodeProcess>> nodes_;
  Direction il_sy_, sy_il_;
  int commands_ = 0;
};

TEST_F(BothWaysTest, TwentyPercentLossOnEveryLinkIsRecoveredInBothDirections) {
  constexpr double loss = 0.20;
  // A loss proxy in front of every link's receiving end.
  std::map<std::string, std::uint16_t> proxy_ports;
  for (const char* link : {"il-us", "us-sy", "sy-us", "us-il"}) {
    auto p = deploy::free_port(SOCK_DGRAM);
    ASSERT_TRUE(p.ok());
    proxy_ports[link] = *p;
  }
  // Links paced below what the gateways offer, so the senders' queues fill whole 64+16 blocks:
  // at 20 % loss about 45 % of those lose more than their 16 parity fragments. (1 MB/s: four
  // interleaved blocks take 0.45 s, within the receivers' 1 s block timeout.)
  ASSERT_NO_FATAL_FAILURE(create(proxy_ports, 1'000'000));
  const auto& r = *cell_.reverse;
  const std::map<std::string, std::uint16_t> targets = {{"il-us", cell_.relay_link_in_port},
                                                        {"us-sy", cell_.receiver_link_in_port},
                                                        {"sy-us", r.relay_link_in_port},
                                                        {"us-il", r.receiver_link_in_port}};
  std::map<std::string, std::unique_ptr<sim::UdpLossProxy>> proxies;
  // Whether random loss alone beats FEC depends on the pace (a sender slower than its link
  // flushes short blocks, which the same loss rarely defeats), so every link also loses a
  // burst of 120 datagrams in every 1,500: 30 fragments in each of four interleaved blocks,
  // more than their 16 parity fragments, whatever the pace.
  constexpr sim::Bursts bursts{1500, 120};
  std::uint64_t seed = 20;
  for (const auto& [link, port] : proxy_ports) {
    auto p = sim::UdpLossProxy::start(port, targets.at(link), loss, ++seed, bursts);
    ASSERT_TRUE(p.ok()) << link << ": " << p.status().reason();
    proxies[link] = std::move(*p);
  }
  ASSERT_NO_FATAL_FAILURE(start_all());
  const std::uint64_t items = items_from_env(3000);
  il_sy_.source.body_bytes = sy_il_.source.body_bytes = 6000;
  run_traffic(il_sy_, items);
  run_traffic(sy_il_, items);
  finish_sources();
  wait_delivered(180s);
  stop_consumers();
  for (const auto& [link, p] : proxies) {
    const auto& c = p->counters();
    std::printf("[loss proxy %s, seed %llu] %llu datagrams, %llu dropped (%.1f %%)\n", link.c_str(),
                static_cast<unsigned long long>(p->seed()),
                static_cast<unsigned long long>(c.received.load()),
                static_cast<unsigned long long>(c.dropped.load()),
                100.0 * static_cast<double>(c.dropped.load()) /
                    static_cast<double>(std::max<std::uint64_t>(1, c.received.load())));
    EXPECT_GT(c.dropped.load(), c.received.load() / 10) << link << ": the proxy dropped too little";
  }
  expect_exactly_what_the_policy_releases(il_sy_);
  expect_exactly_what_the_policy_releases(sy_il_);
  // The recovery, as the nodes count it.
  for (const auto& [rx, gw] : {std::pair{"sy-rx-1", "il-gw-1"}, std::pair{"il-rx-1", "sy-gw-1"}}) {
    const double lost = metric(rx, "cellgate_receiver_lost_on_link_total") +
                        metric("us-relay", "cellgate_relay_lost_on_links_total");
    const double recovered = metric(rx, "cellgate_receiver_recovered_total");
    const double asked = metric(rx, "cellgate_receiver_gap_seqs_requested_total");
    const double resent = metric(gw, "cellgate_gateway_resent_for_gaps_total");
    const double reforwarded = metric("us-relay", "cellgate_relay_reforwarded_total");
    if (HasFailure()) {  // the receiver's link, for whoever reads the failure
      auto text = deploy::scrape("127.0.0.1:" + std::to_string(nodes_spec_.at(rx).second), 5000);
      if (text.ok()) {
        std::istringstream lines(*text);
        std::string l;
        while (std::getline(lines, l))
          if (l.find("cellgate_link_blocks") == 0 || l.find("cellgate_link_fragments") == 0)
            std::printf("  %s %s\n", rx, l.c_str());
      }
    }
    std::printf(
        "[%s] envelopes the links reported lost (at the relay, both ways, and here) %.0f, "
        "seqs asked for again %.0f, "
        "recovered %.0f; %s re-sent %.0f; the relay forwarded %.0f again\n",
        rx, lost, asked, recovered, gw, resent, reforwarded);
    EXPECT_GT(lost, 0.0) << rx << ": the link lost nothing: the loss was not beyond FEC";
    EXPECT_GT(recovered, 0.0) << rx << ": delivered everything, but nothing by recovery?";
    EXPECT_GT(resent, 0.0) << gw;
    for (int i = 0; i < 100 && metric(rx, "cellgate_receiver_missing") != 0.0; ++i)
      std::this_thread::sleep_for(100ms);  // the gauge is counted once a second
    EXPECT_EQ(metric(rx, "cellgate_receiver_missing"), 0.0) << rx;
    EXPECT_EQ(metric(rx, "cellgate_receiver_written_off_total"), 0.0) << rx;
    EXPECT_EQ(metric(rx, "cellgate_receiver_gaps_abandoned_total"), 0.0) << rx;
    EXPECT_EQ(metric(gw, "cellgate_gateway_gap_unrecoverable_total"), 0.0) << gw;
    EXPECT_EQ(metric(rx, "cellgate_receiver_equivocation_total"), 0.0) << rx;
    EXPECT_GT(metric(rx, "cellgate_receiver_heads_total"), 0.0) << rx;
  }
  stop_all();
}

// Writes a config for one half of a forked relay: the relay's identity and keys, its own store
// and metrics port, only the link from `from` and the link to `to`.
std::string half_relay(const std::string& toml, const std::string& from, const std::string& to,
                       const std::string& store, std::uint16_t metrics_port) {
  std::istringstream in(toml);
  std::string line, out, block;
  bool keep = true;
  auto flush = [&] {
    if (keep) out += block;
    block.clear();
  };
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '[') {
      flush();
      keep = true;
    }
    if (line.rfind("party = ", 0) == 0 && (block.rfind("[[link_in]]", 0) == 0)) {
      keep = line == "party = \"" + from + "\"";
    }
    if (line.rfind("party = ", 0) == 0 && (block.rfind("[[link_out]]", 0) == 0)) {
      keep = line == "party = \"" + to + "\"";
    }
    if (line.rfind("store = ", 0) == 0 && block.rfind("[node]", 0) == 0)
      line = "store = \"" + store + "\"";
    if (line.rfind("listen = ", 0) == 0 && block.rfind("[metrics]", 0) == 0)
      line = "listen = \"127.0.0.1:" + std::to_string(metrics_port) + "\"";
    block += line + "\n";
  }
  flush();
  return out;
}

TEST_F(BothWaysTest, ARelayThatForksItsLogIsDetectedByBothParties) {
  ASSERT_NO_FATAL_FAILURE(create());
  // The fork: the relay's one identity run twice, each half with a log of its own, so il's
  // receiver is shown one history and sy's another, under the same serials.
  const std::string toml = read_text(cell_.relay_config);
  auto port_a = deploy::free_port(SOCK_STREAM), port_b = deploy::free_port(SOCK_STREAM);
  ASSERT_TRUE(port_a.ok() && port_b.ok());
  const std::string a = cell_.dir + "/config/us-relay-a.toml",
                    b = cell_.dir + "/config/us-relay-b.toml";
  for (const auto& [file, from, to, store, port] :
       {std::tuple{a, "il", "sy", "../state/us-relay-a", *port_a},
        std::tuple{b, "sy", "il", "../state/us-relay-b", *port_b}}) {
    const std::string text = half_relay(toml, from, to, store, port);
    ASSERT_EQ(text.find("[[link_in]]"), text.rfind("[[link_in]]")) << text;
    ASSERT_EQ(text.find("[[link_out]]"), text.rfind("[[link_out]]")) << text;
    ASSERT_NE(text.find("party = \"" + std::string(from) + "\""), std::string::npos) << text;
    std::ofstream(file) << text;
    ::mkdir((cell_.dir + "/state/" + std::string(store).substr(9)).c_str(), 0700);
  }
  nodes_spec_["us-relay-a"] = {a, *port_a};
  nodes_spec_["us-relay-b"] = {b, *port_b};
  for (const char* id : {"sy-rx-1", "il-rx-1", "us-relay-a", "us-relay-b", "il-gw-1", "sy-gw-1"}) {
    ASSERT_NO_FATAL_FAILURE(start(id));
  }
  // Each half forwards what it gets: the parties get their items...
  exchange(items_from_env(3000) / 6);
  // ...and both find out, from the heads the other quotes in its reports.
  wait_both("cellgate_receiver_equivocation_total", 900);
  EXPECT_GT(metric("il-rx-1", "cellgate_receiver_equivocation_total"), 0.0) << log_of("il-rx-1");
  EXPECT_GT(metric("sy-rx-1", "cellgate_receiver_equivocation_total"), 0.0) << log_of("sy-rx-1");
  EXPECT_NE(log_of("il-rx-1").find("ALARM: equivocation"), std::string::npos);
  EXPECT_NE(log_of("sy-rx-1").find("ALARM: equivocation"), std::string::npos);
  stop_consumers();
  stop_all();
  // The operators' check, offline: each receiver's own record, and the heads exchanged.
  const auto& r = *cell_.reverse;
  for (const std::string& store : {cell_.receiver_store, r.receiver_store}) {
    auto [rc, out] = cellgate(
        {"audit", "check-consistency", "--store", store, "--trust-root", cell_.trust_root_file});
    EXPECT_EQ(rc, 1) << out;
    EXPECT_NE(out.find("EQUIVOCATION"), std::string::npos) << out;
    std::printf("[check-consistency --store %s]\n%s", store.c_str(), out.c_str());
  }
  const std::string sy_heads = dir_.file("sy.heads");
  auto [rc_export, out_export] =
      cellgate({"audit", "heads", "--store", cell_.receiver_store, "--out", sy_heads});
  ASSERT_EQ(rc_export, 0) << out_export;
  auto [rc, out] = cellgate({"audit", "check-consistency", "--store", r.receiver_store,
                             "--trust-root", cell_.trust_root_file, "--heads", sy_heads, "--json"});
  EXPECT_EQ(rc, 1) << out;
  std::printf("[check-consistency --heads]\n%s", out.c_str());
  EXPECT_NE(out.find("\"consistent\":false"), std::string::npos) << out;
  EXPECT_NE(out.find("fork: "), std::string::npos) << out;
}

// One honest relay: the heads the parties quote to each other match, and the offline check of
// the exchanged heads agrees.
TEST_F(BothWaysTest, AnHonestRelayShowsBothPartiesOneHistory) {
  ASSERT_NO_FATAL_FAILURE(create());
  ASSERT_NO_FATAL_FAILURE(start_all());
  exchange(items_from_env(3000) / 6);
  wait_both("cellgate_receiver_heads_matched_total", 300);
  for (const char* rx : {"il-rx-1", "sy-rx-1"}) {
    EXPECT_GT(metric(rx, "cellgate_receiver_heads_matched_total"), 0.0) << rx;
    EXPECT_EQ(metric(rx, "cellgate_receiver_equivocation_total"), 0.0) << rx << log_of(rx);
    EXPECT_GT(metric(rx, "cellgate_receiver_heads_linked_total"), 0.0) << rx;
  }
  stop_consumers();
  stop_all();
  const auto& r = *cell_.reverse;
  const std::string il_heads = dir_.file("il.heads");
  ASSERT_EQ(cellgate({"audit", "heads", "--store", r.receiver_store, "--out", il_heads}).first, 0);
  auto [rc, out] = cellgate({"audit", "check-consistency", "--store", cell_.receiver_store,
                             "--trust-root", cell_.trust_root_file, "--heads", il_heads});
  EXPECT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("consistent: one append-only history"), std::string::npos) << out;
}

}  // namespace
}  // namespace cg
