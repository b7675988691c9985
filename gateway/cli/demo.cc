// `cellgate demo`: the whole cell on loopback — three node processes, a source and a
// consumer — with every number measured.
//
//   deployment   deploy::create writes keys (sealed under a passphrase), a trust root, the il
//                policy approved by 2 of 3 reviewers, and one config per node into a
//                temporary folder;
//   nodes        il-gw-1, us-relay and sy-rx-1 each run as `cellgate run --config ...`, a
//                separate process, talking over loopback UDP one-way links;
//   source       sends synthetic items (every kind, precedence and label shape, some of them
//                malformed) over CurveZMQ and records what the approved policy makes of each;
//   consumer     takes every delivery from the receiver, acknowledges it and checks it is
//                byte-identical to what the policy releases;
//   the numbers  the source's and consumer's own counts, each node's Prometheus endpoint, the
//                nodes' CPU and peak RSS from /proc, and the relay's durable transparency log.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include "crypto/keys.h"
#include "gateway/cli/cell_util.h"
#include "gateway/cli/cli.h"
#include "gateway/common/hex.h"
#include "gateway/deploy/deploy.h"
#include "gateway/store/store.h"
#include "gateway/traffic/traffic.h"
#include "gateway/translog/translog.h"

namespace cg::cli {

int demo(const DemoOptions& options) {
  std::printf(
      "cellgate demo — the whole cell on loopback: three node processes, a source and a "
      "consumer\n\n");
  std::string dir = (std::filesystem::temp_directory_path() / "cellgate-demo-XXXXXX").string();
  if (::mkdtemp(dir.data()) == nullptr) {
    std::fprintf(stderr, "demo: cannot create a temporary folder\n");
    return exit_io;
  }
  struct Cleanup {
    std::string d;
    ~Cleanup() {
      std::error_code ec;
      if (!d.empty()) std::filesystem::remove_all(d, ec);
    }
  } cleanup{dir};
  deploy::Options dopt;
  dopt.dir = dir + "/cell";
  dopt.policy_file = options.policy;
  dopt.encrypt_keys = true;
  dopt.link_rate_bytes_per_s = options.link_bytes_per_s;
  auto cell = deploy::create(dopt);
  if (!cell.ok()) {
    std::fprintf(
        stderr, "demo: %s%s\n", cell.status().reason().c_str(),
        cell.status().code() == Code::io ? " (run from the repository root or pass --policy)" : "");
    return cell.status().code() == Code::io ? exit_io : exit_failed;
  }
  auto policy_text = crypto::read_file(cell->policy_file, limits::policy_bytes_max);
  if (!policy_text.ok()) return exit_io;
  auto expect = traffic::Expectations::create(
      {reinterpret_cast<const char*>(policy_text->data()), policy_text->size()}, "sy");
  if (!expect.ok()) {
    std::fprintf(stderr, "demo: %s\n", expect.status().reason().c_str());
    return exit_failed;
  }
  std::printf("deployment:   %s\n", cell->dir.c_str());
  std::printf(
      "              trust root (3 nodes, il reviewers alice/bob/carol, threshold 2), the il "
      "policy\n              approved by alice and carol, keys sealed under a passphrase, one "
      "config per node\n");

  // --- Nodes ------------------------------------------------------------------------------
  const std::string binary = self_binary();
  struct Node {
    const char* id;
    std::string config;
    std::uint16_t metrics_port;
    std::unique_ptr<deploy::NodeProcess> process;
  };
  Node nodes[] = {{"sy-rx-1", cell->receiver_config, cell->receiver_metrics_port, nullptr},
                  {"us-relay", cell->relay_config, cell->relay_metrics_port, nullptr},
                  {"il-gw-1", cell->gateway_config, cell->gateway_metrics_port, nullptr}};
  for (auto& n : nodes) {
    auto p = deploy::NodeProcess::start(binary, n.config, cell->dir + "/" + n.id + ".log");
    if (!p.ok()) {
      std::fprintf(stderr, "demo: starting %s: %s\n", n.id, p.status().reason().c_str());
      return exit_io;
    }
    n.process = std::move(*p);
    if (auto s = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(n.metrics_port), 60'000);
        !s.ok()) {
      std::fprintf(stderr, "demo: %s did not come up (%s); its log: %s/%s.log\n", n.id,
                   s.reason().c_str(), cell->dir.c_str(), n.id);
      cleanup.d.clear();  // keep the logs for a look
      return exit_failed;
    }
    std::printf("node:         %-9s pid %-7d `cellgate run --config config/%s.toml`\n", n.id,
                static_cast<int>(n.process->pid()), n.id);
  }

  // --- Traffic ----------------------------------------------------------------------------
  traffic::SourceOptions so;
  so.endpoint = cell->ingest_endpoint;
  so.server_public_z85 = cell->gateway_curve_public;
  so.keys = cell->source;
  so.source_id = cell->source_id;
  so.seed = options.seed;
  so.body_bytes = options.body_bytes;
  so.items = options.items;
  so.malformed_every = 50;
  traffic::ConsumerOptions co;
  co.endpoint = cell->deliver_endpoint;
  co.server_public_z85 = cell->receiver_curve_public;
  co.keys = cell->consumer;
  traffic::SourceCounters sc;
  traffic::ConsumerCounters cc;
  std::atomic<bool> stop_source{false}, stop_consumer{false};
  Status source_status, consumer_status;
  const auto start = SteadyClock::now();
  std::thread consumer(
      [&] { consumer_status = traffic::run_consumer(co, **expect, cc, stop_consumer); });
  std::atomic<bool> source_done{false};
  std::thread source([&] {
    source_status = traffic::run_source(so, **expect, sc, stop_source);
    source_done.store(true);
  });
  std::printf("\n");
  auto progress = [&] {
    const auto t = (*expect)->totals();
    std::fprintf(stderr, "\r  %5.1f s  sent %llu/%llu  acknowledged %llu  delivered %llu/%llu   ",
                 seconds_since(start), static_cast<unsigned long long>(sc.sent.load()),
                 static_cast<unsigned long long>(options.items),
                 static_cast<unsigned long long>(t.accepted),
                 static_cast<unsigned long long>(cc.verified.load()),
                 static_cast<unsigned long long>(t.accepted_releasable));
  };
  while (!source_done.load()) {
    progress();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  source.join();
  const double source_s = seconds_since(start);
  // Until every releasable item arrived, or 30 s without progress.
  auto last_change = SteadyClock::now();
  std::uint64_t last_verified = 0;
  while (source_status.ok()) {
    progress();
    const auto t = (*expect)->totals();
    if (cc.verified.load() + cc.differing.load() >= t.accepted_releasable) break;
    if (cc.verified.load() != last_verified) {
      last_verified = cc.verified.load();
      last_change = SteadyClock::now();
    }
    if (seconds_since(last_change) > 30) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  progress();
  std::fprintf(stderr, "\n");
  const double total_s = seconds_since(start);
  // What each node counted, its CPU and memory, while it still runs.
  std::map<std::string, std::string> exposition;
  std::map<std::string, deploy::ProcessUsage> usage;
  for (auto& n : nodes) {
    exposition[n.id] = scrape_or_empty(n.metrics_port);
    if (auto u = n.process->usage(); u.ok()) usage[n.id] = *u;
  }
  stop_consumer.store(true);
  consumer.join();
  bool clean_exit = true;
  for (auto& n : nodes) {
    const int rc = n.process->terminate(10'000);
    if (rc != 0) {
      std::fprintf(stderr, "demo: %s exited with %d\n", n.id, rc);
      clean_exit = false;
    }
  }
  if (!source_status.ok())
    std::fprintf(stderr, "demo: source: %s\n", source_status.reason().c_str());
  if (!consumer_status.ok())
    std::fprintf(stderr, "demo: consumer: %s\n", consumer_status.reason().c_str());

  // --- Report -----------------------------------------------------------------------------
  const auto t = (*expect)->totals();
  const auto& gw = exposition["il-gw-1"];
  const auto& relay = exposition["us-relay"];
  const auto& rx = exposition["sy-rx-1"];
  const auto g = [&](const char* name, const char* label = "", const char* value = "") {
    return static_cast<std::uint64_t>(sample(gw, name, "il-gw-1", label, value));
  };
  const std::uint64_t gw_received = g("cellgate_ingest_received_total");
  const std::uint64_t gw_accepted = g("cellgate_ingest_accepted_total");
  const std::uint64_t gw_malformed = g("cellgate_ingest_rejected_total", "reason", "malformed") +
                                     g("cellgate_ingest_rejected_total", "reason", "too_large");
  const std::uint64_t released = g("cellgate_gateway_decisions_total", "decision", "released");
  const std::uint64_t blocked = g("cellgate_gateway_decisions_total", "decision", "blocked");
  const std::uint64_t quarantined =
      g("cellgate_gateway_decisions_total", "decision", "quarantined");
  const std::uint64_t redacted = g("cellgate_gateway_redacted_total");
  const auto relayed =
      static_cast<std::uint64_t>(sample(relay, "cellgate_relay_relayed_total", "us-relay"));
  std::uint64_t relay_refused = 0;
  for (const char* why : {"origin", "replay", "oversight", "no_route", "bundle"})
    relay_refused += static_cast<std::uint64_t>(
        sample(relay, "cellgate_relay_refused_total", "us-relay", "reason", why));
  const auto rx_stored =
      static_cast<std::uint64_t>(sample(rx, "cellgate_receiver_stored_total", "sy-rx-1"));
  const auto rx_refused =
      static_cast<std::uint64_t>(sample(rx, "cellgate_receiver_refused_total", "sy-rx-1"));
  const auto lost =
      static_cast<std::uint64_t>(sample(relay, "cellgate_relay_lost_on_links_total", "us-relay") +
                                 sample(rx, "cellgate_receiver_lost_on_link_total", "sy-rx-1"));

  std::printf(
      "items in:     %llu sent by the source; %llu acknowledged (stored), %llu malformed refused "
      "at ingest\n",
      static_cast<unsigned long long>(sc.sent.load()), static_cast<unsigned long long>(t.accepted),
      static_cast<unsigned long long>(sc.rejected_malformed.load()));
  std::printf(
      "gateway:      received %llu, stored %llu, refused %llu malformed; judged for sy: released "
      "%llu\n              (%llu of them redacted), blocked %llu, quarantined %llu\n",
      static_cast<unsigned long long>(gw_received), static_cast<unsigned long long>(gw_accepted),
      static_cast<unsigned long long>(gw_malformed), static_cast<unsigned long long>(released),
      static_cast<unsigned long long>(redacted), static_cast<unsigned long long>(blocked),
      static_cast<unsigned long long>(quarantined));
  std::printf(
      "policy check: the same items judged here under the approved policy: released %llu "
      "(redacted %llu),\n              blocked %llu, quarantined %llu\n",
      static_cast<unsigned long long>(t.released), static_cast<unsigned long long>(t.redacted),
      static_cast<unsigned long long>(t.blocked), static_cast<unsigned long long>(t.quarantined));
  std::printf("relay:        %llu verified, logged, countersigned and forwarded; %llu refused\n",
              static_cast<unsigned long long>(relayed),
              static_cast<unsigned long long>(relay_refused));
  std::printf(
      "receiver:     %llu verified (relay countersignature, inclusion proof, origin signature),\n"
      "              opened and stored; %llu refused\n",
      static_cast<unsigned long long>(rx_stored), static_cast<unsigned long long>(rx_refused));
  std::printf(
      "delivered:    %llu to the consumer, %llu byte-identical to what the policy releases, %llu "
      "differing,\n              %llu never released, %llu duplicates; %llu lost on the links\n",
      static_cast<unsigned long long>(cc.deliveries.load()),
      static_cast<unsigned long long>(cc.verified.load()),
      static_cast<unsigned long long>(cc.differing.load()),
      static_cast<unsigned long long>(cc.unexpected.load()),
      static_cast<unsigned long long>(cc.duplicates.load()), static_cast<unsigned long long>(lost));
  std::printf(
      "throughput:   %.0f items/s in (%llu acknowledged in %.2f s); all judged and the %llu "
      "released\n              delivered after %.2f s: %.0f items/s through the whole cell\n",
      static_cast<double>(t.accepted) / source_s, static_cast<unsigned long long>(t.accepted),
      source_s, static_cast<unsigned long long>(cc.verified.load()), total_s,
      static_cast<double>(t.accepted) / total_s);
  for (const auto& [p, v] : (*expect)->latencies()) {
    std::printf("latency:      %-9s p50 %7.1f ms   p99 %7.1f ms   (%zu items, source → consumer)\n",
                precedence_name(p), traffic::percentile(v, 0.5), traffic::percentile(v, 0.99),
                v.size());
  }
  for (const auto& n : nodes) {
    auto u = usage.find(n.id);
    if (u == usage.end()) continue;
    std::printf("node:         %-9s cpu %.2f s, peak RSS %.1f MiB\n", n.id, u->second.cpu_seconds,
                static_cast<double>(u->second.peak_rss_kb) / 1024.0);
  }
  // The relay's durable log, read after it stopped.
  bool log_matches = false;
  {
    auto env = store::Env::open({.path = cell->relay_store, .read_only = true});
    if (env.ok()) {
      auto log = translog::Log::open(**env, "relay", crypto::hasher_of(crypto::modern_suite()));
      if (log.ok()) {
        auto size = log->size();
        auto root = size.ok() ? log->root(*size) : Result<crypto::Hash>(io_error("size"));
        if (size.ok() && root.ok()) {
          std::printf(
              "relay log:    tree size %llu, root %s\n              (what us-relay's last signed "
              "tree head says; sy checked each envelope's inclusion proof under its head)\n",
              static_cast<unsigned long long>(*size), to_hex(*root).c_str());
          log_matches = *size == relayed;
        }
      }
    }
  }
  const bool adds_up =
      clean_exit && source_status.ok() && consumer_status.ok() &&
      gw_received == sc.sent.load() + sc.resent.load() && gw_accepted == t.accepted &&
      released == t.released && redacted == t.redacted && blocked == t.blocked &&
      quarantined == t.quarantined && relayed == released && relay_refused == 0 &&
      rx_stored == released && rx_refused == 0 && cc.verified.load() == t.accepted_releasable &&
      t.accepted_releasable == released && cc.differing.load() == 0 && cc.unexpected.load() == 0 &&
      cc.duplicates.load() == 0 && log_matches;
  std::printf(
      "\ncheck:        sent = stored + malformed; the gateway's decisions = the policy's; "
      "released = relayed =\n              logged = stored at sy = delivered byte-identical; "
      "nothing unexpected, lost or twice: %s\n",
      adds_up ? "yes" : "NO");
  if (!adds_up) {
    const auto missing = (*expect)->missing(5);
    if (!missing.empty()) {
      std::printf("              %llu releasable items not delivered, e.g.",
                  static_cast<unsigned long long>(t.accepted_releasable - cc.verified.load()));
      for (const auto& id : missing) std::printf(" %s", id.c_str());
      std::printf("\n");
    }
    std::printf("              node logs: %s/*.log\n", cell->dir.c_str());
    cleanup.d.clear();  // keep the deployment and logs for a look
  }
  return adds_up ? exit_ok : exit_failed;
}

}  // namespace cg::cli
