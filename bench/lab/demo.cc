// `cellgate-lab demo`: the whole cell on loopback, both directions — five node processes, two
// sources and two consumers — with every number measured.
//
//   deployment   deploy::create writes keys (sealed under a passphrase), a trust root, the il
//                and sy policies each approved by 2 of 3 of their party's reviewers, and one
//                config per node into a temporary folder;
//   nodes        il-gw-1, sy-gw-1, us-relay, sy-rx-1 and il-rx-1 each run as `cellgate run
//                --config ...`, a separate process, talking over loopback UDP one-way links;
//                each receiver is a source of its own party's gateway (gap reports, tree heads);
//   sources      il-src-1 and sy-src-1 send synthetic items (every kind, precedence and label
//                shape, some of them malformed) over CurveZMQ and record what their party's
//                approved policy makes of each;
//   consumers    take every delivery from the receivers, acknowledge it and check it is
//                byte-identical to what the origin's policy releases;
//   the numbers  the sources' and consumers' own counts, each node's Prometheus endpoint, the
//                nodes' CPU and peak RSS from /proc, and the relay's durable transparency log.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>

#include "bench/lab/cell_util.h"
#include "bench/lab/deploy/deploy.h"
#include "bench/lab/lab.h"
#include "bench/lab/traffic/traffic.h"
#include "crypto/keys.h"
#include "gateway/common/hex.h"
#include "gateway/store/store.h"
#include "gateway/translog/translog.h"

namespace cg::lab {
namespace {

using ull = unsigned long long;

// One direction of the cell: its source and consumer, and what the origin's policy releases.
struct Direction {
  const char* name;      // "il → sy"
  const char* gateway;   // origin gateway
  const char* receiver;  // destination receiver
  const char* near_rx;   // the origin party's own receiver (whose reports the gateway sends)
  const char* destination;
  std::unique_ptr<traffic::Expectations> expect;
  traffic::SourceOptions so;
  traffic::ConsumerOptions co;
  traffic::SourceCounters sc;
  traffic::ConsumerCounters cc;
  std::atomic<bool> stop_consumer{false}, done{false};
  std::atomic<bool> stop_source{false};
  Status source_status, consumer_status;
  std::thread source, consumer;
  double source_s = 0;
};

// What the nodes said about one direction, and whether it adds up.
struct Tally {
  std::uint64_t received = 0, accepted = 0, malformed = 0;
  std::uint64_t released = 0, redacted = 0, blocked = 0, quarantined = 0;
  std::uint64_t reports_released = 0;  // the near receiver's reports among `released`
  std::uint64_t stored = 0, refused = 0, reports_in = 0;
  std::uint64_t lost = 0, asked = 0, resent = 0, recovered = 0;
  std::uint64_t matched = 0, equivocation = 0;
};

Tally tally(const Direction& d, std::map<std::string, std::string>& exposition) {
  const auto& gw = exposition[d.gateway];
  const auto& rx = exposition[d.receiver];
  const auto g = [&](const char* name, const char* label = "", const char* value = "") {
    return static_cast<std::uint64_t>(sample(gw, name, d.gateway, label, value));
  };
  const auto r = [&](const char* name) {
    return static_cast<std::uint64_t>(sample(rx, name, d.receiver));
  };
  Tally t;
  t.received = g("cellgate_ingest_received_total");
  t.accepted = g("cellgate_ingest_accepted_total");
  t.malformed = g("cellgate_ingest_rejected_total", "reason", "malformed") +
                g("cellgate_ingest_rejected_total", "reason", "too_large");
  t.released = g("cellgate_gateway_decisions_total", "decision", "released");
  t.blocked = g("cellgate_gateway_decisions_total", "decision", "blocked");
  t.quarantined = g("cellgate_gateway_decisions_total", "decision", "quarantined");
  t.redacted = g("cellgate_gateway_redacted_total");
  t.reports_released = g("cellgate_gateway_reports_released_total");
  t.resent = g("cellgate_gateway_resent_for_gaps_total");
  t.stored = r("cellgate_receiver_stored_total");
  t.refused = r("cellgate_receiver_refused_total");
  t.reports_in = r("cellgate_receiver_reports_in_total");
  t.lost = r("cellgate_receiver_lost_on_link_total");
  t.asked = r("cellgate_receiver_gap_seqs_requested_total");
  t.recovered = r("cellgate_receiver_recovered_total");
  t.matched = r("cellgate_receiver_heads_matched_total");
  t.equivocation = r("cellgate_receiver_equivocation_total");
  return t;
}

void progress(SteadyClock::time_point start, Direction* dirs) {
  std::fprintf(stderr, "\r  %5.1f s", seconds_since(start));
  for (int i = 0; i < 2; ++i) {
    const auto t = dirs[i].expect->totals();
    std::fprintf(stderr, "   %s: sent %llu/%llu, delivered %llu/%llu", dirs[i].name,
                 static_cast<ull>(dirs[i].sc.sent.load()), static_cast<ull>(dirs[i].so.items),
                 static_cast<ull>(dirs[i].cc.verified.load()),
                 static_cast<ull>(t.accepted_releasable));
  }
  std::fprintf(stderr, "  ");
}

}  // namespace

int demo(const DemoOptions& options) {
  std::printf(
      "cellgate demo — the whole cell on loopback, both directions: five node processes, two "
      "sources and\ntwo consumers\n\n");
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
  dopt.sy_policy_file = options.sy_policy;
  dopt.both_directions = true;
  dopt.encrypt_keys = true;
  dopt.separate_guard = true;  // each gateway's signing key in its release guard alone
  dopt.link_rate_bytes_per_s = options.link_bytes_per_s;
  dopt.gossip_interval_ms = 2000;  // the parties compare the relay's heads every 2 s
  auto cell = deploy::create(dopt);
  if (!cell.ok()) {
    std::fprintf(
        stderr, "demo: %s%s\n", cell.status().reason().c_str(),
        cell.status().code() == Code::io ? " (run from the repository root or pass --policy)" : "");
    return cell.status().code() == Code::io ? exit_io : exit_failed;
  }
  const auto& rev = *cell->reverse;
  Direction dirs[2] = {{"il → sy", "il-gw-1", "sy-rx-1", "il-rx-1", "sy"},
                       {"sy → il", "sy-gw-1", "il-rx-1", "sy-rx-1", "il"}};
  const std::string policies[2] = {cell->policy_file, rev.policy_file};
  for (int i = 0; i < 2; ++i) {
    auto text = crypto::read_file(policies[i], limits::policy_bytes_max);
    if (!text.ok()) return exit_io;
    auto e = traffic::Expectations::create(
        {reinterpret_cast<const char*>(text->data()), text->size()}, dirs[i].destination);
    if (!e.ok()) {
      std::fprintf(stderr, "demo: %s\n", e.status().reason().c_str());
      return exit_failed;
    }
    dirs[i].expect = std::move(*e);
  }
  std::printf("deployment:   %s\n", cell->dir.c_str());
  std::printf(
      "              trust root (5 nodes; reviewers il/alice,bob,carol and sy/dana,erin,farid, "
      "threshold 2),\n              each party's policy approved by two of its reviewers, keys "
      "sealed under a\n              passphrase, one config per node\n");

  // --- Nodes ------------------------------------------------------------------------------
  const std::string binary = cellgate_binary();
  struct Node {
    const char* id;
    std::string config;
    std::uint16_t metrics_port;
    std::unique_ptr<deploy::NodeProcess> process;
  };
  Node nodes[] = {{"sy-rx-1", cell->receiver_config, cell->receiver_metrics_port, nullptr},
                  {"il-rx-1", rev.receiver_config, rev.receiver_metrics_port, nullptr},
                  {"us-relay", cell->relay_config, cell->relay_metrics_port, nullptr},
                  {"il-guard-1", cell->guard_config, cell->guard_metrics_port, nullptr},
                  {"sy-guard-1", rev.guard_config, rev.guard_metrics_port, nullptr},
                  {"il-gw-1", cell->gateway_config, cell->gateway_metrics_port, nullptr},
                  {"sy-gw-1", rev.gateway_config, rev.gateway_metrics_port, nullptr}};
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
    std::printf("node:         %-10s pid %-7d `cellgate run --config config/%s.toml`\n", n.id,
                static_cast<int>(n.process->pid()), n.id);
  }

  // --- Traffic ----------------------------------------------------------------------------
  const struct {
    std::string ingest, gateway_key, source_id, deliver, receiver_key;
    ingest::KeyPair source, consumer;
  } ends[2] = {{cell->ingest_endpoint, cell->gateway_curve_public, cell->source_id,
                cell->deliver_endpoint, cell->receiver_curve_public, cell->source, cell->consumer},
               {rev.ingest_endpoint, rev.gateway_curve_public, rev.source_id, rev.deliver_endpoint,
                rev.receiver_curve_public, rev.source, rev.consumer}};
  const auto start = SteadyClock::now();
  for (int i = 0; i < 2; ++i) {
    Direction& d = dirs[i];
    d.so.endpoint = ends[i].ingest;
    d.so.server_public_z85 = ends[i].gateway_key;
    d.so.keys = ends[i].source;
    d.so.source_id = ends[i].source_id;
    d.so.seed = options.seed + static_cast<std::uint64_t>(i);
    d.so.body_bytes = options.body_bytes;
    d.so.items = (options.items + 1 - static_cast<std::uint64_t>(i)) / 2;
    d.so.malformed_every = 50;
    d.co.endpoint = ends[i].deliver;
    d.co.server_public_z85 = ends[i].receiver_key;
    d.co.keys = ends[i].consumer;
    d.consumer = std::thread([&d] {
      d.consumer_status = traffic::run_consumer(d.co, *d.expect, d.cc, d.stop_consumer);
    });
    d.source = std::thread([&d, start] {
      d.source_status = traffic::run_source(d.so, *d.expect, d.sc, d.stop_source);
      d.source_s = seconds_since(start);
      d.done.store(true);
    });
  }
  std::printf("\n");
  while (!dirs[0].done.load() || !dirs[1].done.load()) {
    progress(start, dirs);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& d : dirs) d.source.join();
  // Until every releasable item arrived both ways, or 30 s without progress.
  auto last_change = SteadyClock::now();
  std::uint64_t last_verified = 0;
  auto all_in = [&] {
    for (const auto& d : dirs) {
      if (d.cc.verified.load() + d.cc.differing.load() < d.expect->totals().accepted_releasable)
        return false;
    }
    return true;
  };
  while (dirs[0].source_status.ok() && dirs[1].source_status.ok() && !all_in()) {
    progress(start, dirs);
    const std::uint64_t v = dirs[0].cc.verified.load() + dirs[1].cc.verified.load();
    if (v != last_verified) {
      last_verified = v;
      last_change = SteadyClock::now();
    }
    if (seconds_since(last_change) > 30) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  progress(start, dirs);
  std::fprintf(stderr, "\n");
  const double total_s = seconds_since(start);
  // The receivers quote the relay's latest head to each other every 2 s: give them the time to
  // compare one each (at most 8 s) before the counts are read.
  for (int i = 0; i < 80; ++i) {
    const auto a = scrape_or_empty(nodes[0].metrics_port),
               b = scrape_or_empty(nodes[1].metrics_port);
    if (sample(a, "cellgate_receiver_heads_matched_total", "sy-rx-1") +
                sample(a, "cellgate_receiver_heads_unverifiable_total", "sy-rx-1") >
            0 &&
        sample(b, "cellgate_receiver_heads_matched_total", "il-rx-1") +
                sample(b, "cellgate_receiver_heads_unverifiable_total", "il-rx-1") >
            0)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The relay's durable log, read (read-only, beside the running relay) in the same snapshot as
  // the counters it must equal.
  struct RelayLog {
    std::uint64_t size = 0;
    crypto::Hash root{};
  };
  auto read_relay_log = [&]() -> std::optional<RelayLog> {
    auto env = store::Env::open({.path = cell->relay_store, .read_only = true});
    if (!env.ok()) return std::nullopt;
    auto log = translog::Log::open(**env, "relay", crypto::hasher_of(crypto::modern_suite()));
    if (!log.ok()) return std::nullopt;
    auto size = log->size();
    if (!size.ok()) return std::nullopt;
    auto root = log->root(*size);
    if (!root.ok()) return std::nullopt;
    return RelayLog{*size, *root};
  };
  // Receiver reports keep crossing (every 2 s): read the nodes and the relay's log once what
  // each gateway released has been relayed, logged and stored at the far receiver, so both ends
  // of every count are the same moment's. A report crossing while they are read makes the
  // snapshot uneven: it is taken again.
  std::map<std::string, std::string> exposition;
  std::map<std::string, deploy::ProcessUsage> usage;
  std::optional<RelayLog> relay_log;
  for (int attempt = 0; attempt < 50; ++attempt) {
    for (auto& n : nodes) exposition[n.id] = scrape_or_empty(n.metrics_port);
    relay_log = read_relay_log();
    const Tally a = tally(dirs[0], exposition), b = tally(dirs[1], exposition);
    const auto relayed_now = static_cast<std::uint64_t>(
        sample(exposition["us-relay"], "cellgate_relay_relayed_total", "us-relay"));
    if (a.stored == a.released && b.stored == b.released &&
        relayed_now == a.released + b.released && relay_log && relay_log->size == relayed_now)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  for (auto& n : nodes) {
    if (auto u = n.process->usage(); u.ok()) usage[n.id] = *u;
  }
  for (auto& d : dirs) {
    d.stop_consumer.store(true);
    d.consumer.join();
  }
  // Upstream first, as an operator stops a cell: each gateway before its guard, the relay and
  // the receivers last, so that no node waits on one already gone.
  bool clean_exit = true;
  for (auto it = std::rbegin(nodes); it != std::rend(nodes); ++it) {
    auto& n = *it;
    const int rc = n.process->terminate(10'000);
    if (rc != 0) {
      std::fprintf(stderr, "demo: %s exited with %d\n", n.id, rc);
      clean_exit = false;
    }
  }

  // --- Report -----------------------------------------------------------------------------
  bool adds_up = clean_exit;
  const auto& relay = exposition["us-relay"];
  const auto relayed =
      static_cast<std::uint64_t>(sample(relay, "cellgate_relay_relayed_total", "us-relay"));
  std::uint64_t relay_refused = 0;
  for (const char* why : {"origin", "replay", "oversight", "no_route", "bundle"})
    relay_refused += static_cast<std::uint64_t>(
        sample(relay, "cellgate_relay_refused_total", "us-relay", "reason", why));
  const auto heads =
      static_cast<std::uint64_t>(sample(relay, "cellgate_relay_heads_published_total", "us-relay"));
  const auto relay_lost =
      static_cast<std::uint64_t>(sample(relay, "cellgate_relay_lost_on_links_total", "us-relay"));
  std::uint64_t released_all = 0;
  Tally tallies[2];
  for (int i = 0; i < 2; ++i) {
    Direction& d = dirs[i];
    const Tally t = tallies[i] = tally(d, exposition);
    const auto e = d.expect->totals();
    released_all += t.released;
    if (!d.source_status.ok())
      std::fprintf(stderr, "demo: %s source: %s\n", d.name, d.source_status.reason().c_str());
    if (!d.consumer_status.ok())
      std::fprintf(stderr, "demo: %s consumer: %s\n", d.name, d.consumer_status.reason().c_str());
    std::printf("\n%s\n", d.name);
    std::printf(
        "items in:     %llu sent by %s; %llu acknowledged (stored), %llu malformed refused "
        "at ingest\n",
        static_cast<ull>(d.sc.sent.load()), d.so.source_id.c_str(), static_cast<ull>(e.accepted),
        static_cast<ull>(d.sc.rejected_malformed.load()));
    std::printf(
        "gateway:      %s judged for %s: released %llu (%llu of them redacted), blocked %llu,\n"
        "              quarantined %llu; and released %llu report(s) of %s (gap ranges, tree "
        "heads)\n",
        d.gateway, d.destination, static_cast<ull>(t.released - t.reports_released),
        static_cast<ull>(t.redacted), static_cast<ull>(t.blocked), static_cast<ull>(t.quarantined),
        static_cast<ull>(t.reports_released), d.near_rx);
    const std::string guard_id = std::string(d.gateway).substr(0, 2) + "-guard-1";
    const auto& gx = exposition[guard_id];
    const auto guard_signed =
        static_cast<std::uint64_t>(sample(gx, "cellgate_guard_signed_total", guard_id.c_str()));
    const auto guard_refused =
        static_cast<std::uint64_t>(sample(gx, "cellgate_guard_refused_total", guard_id.c_str()));
    std::printf(
        "guard:        %s (its own process, the only holder of %s's signing key) re-checked "
        "and\n              signed %llu, refused %llu\n",
        guard_id.c_str(), d.gateway, static_cast<ull>(guard_signed),
        static_cast<ull>(guard_refused));
    adds_up = adds_up && guard_refused == 0;
    std::printf(
        "policy check: the same items judged here under the approved policy: released %llu "
        "(redacted %llu),\n              blocked %llu, quarantined %llu\n",
        static_cast<ull>(e.released), static_cast<ull>(e.redacted), static_cast<ull>(e.blocked),
        static_cast<ull>(e.quarantined));
    std::printf(
        "receiver:     %s verified (relay countersignature, inclusion proof, origin signature), "
        "opened and\n              stored %llu (%llu of them %s's reports, not for consumers); "
        "%llu refused\n",
        d.receiver, static_cast<ull>(t.stored), static_cast<ull>(t.reports_in), d.near_rx,
        static_cast<ull>(t.refused));
    std::printf(
        "delivered:    %llu to the consumer, %llu byte-identical to what the policy releases, "
        "%llu differing,\n              %llu never released, %llu duplicates\n",
        static_cast<ull>(d.cc.deliveries.load()), static_cast<ull>(d.cc.verified.load()),
        static_cast<ull>(d.cc.differing.load()), static_cast<ull>(d.cc.unexpected.load()),
        static_cast<ull>(d.cc.duplicates.load()));
    std::printf("throughput:   %.0f items/s in (%llu acknowledged in %.2f s)\n",
                static_cast<double>(e.accepted) / d.source_s, static_cast<ull>(e.accepted),
                d.source_s);
    for (const auto& [p, v] : d.expect->latencies()) {
      std::printf(
          "latency:      %-9s p50 %7.1f ms   p99 %7.1f ms   (%zu items, source → "
          "consumer)\n",
          precedence_name(p), traffic::percentile(v, 0.5), traffic::percentile(v, 0.99), v.size());
    }
    adds_up = adds_up && d.source_status.ok() && d.consumer_status.ok() &&
              t.accepted >= e.accepted && t.released - t.reports_released == e.released &&
              t.redacted == e.redacted && t.blocked == e.blocked &&
              t.quarantined == e.quarantined && t.stored == t.released && t.refused == 0 &&
              t.reports_in == t.reports_released && d.cc.verified.load() == e.accepted_releasable &&
              e.accepted_releasable == e.released && d.cc.differing.load() == 0 &&
              d.cc.unexpected.load() == 0 && d.cc.duplicates.load() == 0 && t.equivocation == 0;
  }
  std::printf("\nboth ways\n");
  std::printf(
      "relay:        %llu verified, logged, countersigned and forwarded; %llu refused; %llu tree "
      "heads\n              signed and published to both parties\n",
      static_cast<ull>(relayed), static_cast<ull>(relay_refused), static_cast<ull>(heads));
  const Tally& a = tallies[0];
  const Tally& b = tallies[1];
  std::printf(
      "recovery:     %llu envelopes lost on the links; receivers asked for %llu seq(s) again, "
      "the gateways\n              re-sent %llu, %llu arrived that way\n",
      static_cast<ull>(relay_lost + a.lost + b.lost), static_cast<ull>(a.asked + b.asked),
      static_cast<ull>(a.resent + b.resent), static_cast<ull>(a.recovered + b.recovered));
  std::printf(
      "audit:        each receiver compares the relay's tree heads the other party quotes with "
      "its own:\n              sy-rx-1 found %llu equal, il-rx-1 %llu; %llu equivocation(s)\n",
      static_cast<ull>(a.matched), static_cast<ull>(b.matched),
      static_cast<ull>(a.equivocation + b.equivocation));
  for (const auto& n : nodes) {
    auto u = usage.find(n.id);
    if (u == usage.end()) continue;
    std::printf("node:         %-10s cpu %.2f s, peak RSS %.1f MiB\n", n.id, u->second.cpu_seconds,
                static_cast<double>(u->second.peak_rss_kb) / 1024.0);
  }
  std::printf("wall time:    %.2f s from the first item sent to the last delivered\n", total_s);
  bool log_matches = false;
  if (relay_log) {
    std::printf(
        "relay log:    tree size %llu, root %s\n              (what us-relay's last signed "
        "tree head says; each receiver checked every envelope's\n              inclusion "
        "proof under its head, and every head's consistency with the one before)\n",
        static_cast<ull>(relay_log->size), to_hex(relay_log->root).c_str());
    log_matches = relay_log->size == relayed;
  } else {
    std::printf("relay log:    could not be read from %s\n", cell->relay_store.c_str());
  }
  adds_up = adds_up && relayed == released_all && relay_refused == 0 && log_matches;
  std::printf(
      "\ncheck:        each way: the gateway's decisions = the policy's; released = stored at "
      "the far receiver;\n              items delivered byte-identical; relayed = logged = "
      "everything released; no\n              equivocation; nothing unexpected, lost or twice: "
      "%s\n",
      adds_up ? "yes" : "NO");
  if (!adds_up) {
    for (const auto& d : dirs) {
      const auto missing = d.expect->missing(5);
      if (missing.empty()) continue;
      std::printf("              %s: %llu releasable items not delivered, e.g.", d.name,
                  static_cast<ull>(d.expect->totals().accepted_releasable - d.cc.verified.load()));
      for (const auto& id : missing) std::printf(" %s", id.c_str());
      std::printf("\n");
    }
    std::printf("              node logs: %s/*.log\n", cell->dir.c_str());
    cleanup.d.clear();  // keep the deployment and logs for a look
  }
  if (adds_up && options.keep) {
    std::printf("              kept: %s (the nodes' configs, stores and logs)\n",
                cell->dir.c_str());
    cleanup.d.clear();
  }
  return adds_up ? exit_ok : exit_failed;
}

}  // namespace cg::lab
