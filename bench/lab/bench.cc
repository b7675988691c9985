// `cellgate-lab bench`: what this machine can carry, measured the way an operator would before a
// deployment — and every figure next to a baseline from the same run, because the machines
// are shared and noisy.
//
//   micro      the stage micro-benchmarks, the crypto floor, the naive baseline, raw ZeroMQ and
//              UDP (bench_stages.cc), run by Google Benchmark with a reporter that keeps the
//              numbers for the goals below and prints progress;
//   cell       the whole cell as separate processes on loopback (bench/lab/deploy), a source
//              saturating the gateway with a mix of precedences and a consumer checking every
//              delivery (bench/lab/traffic): items/s, MB/s, CPU per item and peak RSS per node,
//              latency per precedence, loss. Then 10x overload: the links paced at a tenth of
//              what the cell just carried, the source offering as much as it can.
//   goals      issue 8's goals as ratios of figures from this run.
//
// The cell runs under a bench policy that releases every item it may (destination sy, all
// levels and categories; markings still apply), so the figures are for items that cross.
#include "bench/lab/bench.h"

#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/lab/cell_util.h"
#include "bench/lab/deploy/deploy.h"
#include "bench/lab/lab.h"
#include "bench/lab/synth/synth.h"
#include "bench/lab/traffic/traffic.h"
#include "crypto/keys.h"
#include "gateway/audit/audit.h"
#include "gateway/common/limits.h"
#include "gateway/ingest/ingest.h"
#include "gateway/sentlog/sentlog.h"
#include "gateway/store/store.h"

namespace cg::lab {
namespace {

bool tty() { return ::isatty(STDERR_FILENO) == 1; }

double self_cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Micro {
  std::string name;
  double items_per_s = 0, bytes_per_s = 0;
  std::string error;
  std::map<std::string, double> counters;
};

// Keeps every run's rates and shows which benchmark is running.
class Collector final : public benchmark::BenchmarkReporter {
 public:
  explicit Collector(bool progress) : progress_(progress) {}
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      Micro m;
      m.name = r.benchmark_name();
      const auto suffix = std::string("/real_time");
      if (m.name.size() > suffix.size() &&
          m.name.compare(m.name.size() - suffix.size(), suffix.size(), suffix) == 0)
        m.name.resize(m.name.size() - suffix.size());
      if (r.error_occurred) m.error = r.error_message;
      for (const auto& [k, c] : r.counters) {
        if (k == "items_per_second")
          m.items_per_s = c.value;
        else if (k == "bytes_per_second")
          m.bytes_per_s = c.value;
        else
          m.counters[k] = c.value;
      }
      results.push_back(m);
      if (progress_) {
        std::fprintf(stderr, "\r\033[K  micro %3zu done  %-34s %12.0f items/s", results.size(),
                     m.name.c_str(), m.items_per_s);
      }
    }
  }
  void Finalize() override {
    if (progress_) std::fprintf(stderr, "\n");
  }
  const Micro* find(const std::string& name) const {
    for (const auto& m : results)
      if (m.name == name && m.error.empty() && m.items_per_s > 0) return &m;
    return nullptr;
  }
  std::vector<Micro> results;

 private:
  bool progress_;
};

// The bench policy: everything the markings allow goes to sy.
constexpr const char* bench_policy = R"([policy]
id = "bench-release-all"
party = "il"
labels = "cell-2026"
levels = ["OPEN", "RESTRICTED", "SECRET", "TOP SECRET"]
text_types = ["text/*", "application/json", "application/stix+json"]

[[destination]]
id = "sy"
party = "sy"
country = "SY"
level_max = "TOP SECRET"
categories = ["DECON", "OPS", "HUMINT", "SIGINT"]

[[rule]]
id = "everything"
to = ["sy"]
action = "release"
)";

struct CellRun {
  std::string error;  // empty when it ran to the end
  double seconds = 0;
  std::uint64_t sent = 0, accepted = 0, releasable = 0, delivered = 0;
  std::uint64_t differing = 0, unexpected = 0, duplicates = 0, lost = 0, overloaded = 0;
  std::uint64_t backpressure_waits = 0, envelope_bytes = 0;
  std::map<std::string, deploy::ProcessUsage> usage;
  // Sampled every 100 ms while the traffic ran: the highest anonymous RSS (heap, stacks: what
  // a leak or an unbounded queue grows; the LMDB map is file pages and is not counted here).
  std::map<std::string, std::uint64_t> peak_anon_kb;
  // Bytes each node wrote to storage during the traffic (its store, fdatasync'd; logs are
  // a few lines), from /proc/PID/io.
  std::map<std::string, std::uint64_t> written_bytes;
  std::size_t item_bytes = 0;      // the items' encoded size, on average (what "2x" is of)
  double clients_cpu_seconds = 0;  // the source and consumer (this process) during the run
  std::map<schema::Precedence, std::vector<double>> latencies;
  bool lossless() const {
    return error.empty() && delivered == releasable && releasable > 0 && differing == 0 &&
           unexpected == 0 && duplicates == 0 && lost == 0;
  }
  double items_per_s() const { return seconds > 0 ? static_cast<double>(delivered) / seconds : 0; }
};

// il-gw-1 is the filter; il-guard-1 its release guard, the only holder of its signing key
// (issue 17): the two CPU figures together are the gateway's, and their ratio the guard's cost.
const char* const node_ids[] = {"sy-rx-1", "us-relay", "il-guard-1", "il-gw-1"};

CellRun run_cell(const std::string& label, const std::string& dir, const std::string& policy_file,
                 std::uint64_t items, std::size_t body_bytes, std::uint64_t link_rate,
                 std::uint64_t inbox_items_max, bool progress, bool separate_guard = true) {
  CellRun run;
  deploy::Options dopt;
  dopt.dir = dir;
  dopt.ingest_inbox_items_max = inbox_items_max;
  dopt.policy_file = policy_file;
  dopt.link_rate_bytes_per_s = link_rate;
  dopt.separate_guard = separate_guard;
  auto cell = deploy::create(dopt);
  if (!cell.ok()) {
    run.error = cell.status().reason();
    return run;
  }
  auto expect = traffic::Expectations::create(bench_policy, "sy");
  if (!expect.ok()) {
    run.error = expect.status().reason();
    return run;
  }
  const std::string binary = cellgate_binary();
  struct Node {
    const char* id;
    std::string config;
    std::uint16_t port;
    std::unique_ptr<deploy::NodeProcess> process;
  };
  Node nodes[] = {{node_ids[0], cell->receiver_config, cell->receiver_metrics_port, nullptr},
                  {node_ids[1], cell->relay_config, cell->relay_metrics_port, nullptr},
                  {node_ids[2], cell->guard_config, cell->guard_metrics_port, nullptr},
                  {node_ids[3], cell->gateway_config, cell->gateway_metrics_port, nullptr}};
  for (auto& n : nodes) {
    if (n.config.empty()) continue;  // no separate guard
    auto p = deploy::NodeProcess::start(binary, n.config, cell->dir + "/" + n.id + ".log");
    if (!p.ok()) {
      run.error = std::string(n.id) + ": " + p.status().reason();
      return run;
    }
    n.process = std::move(*p);
    if (auto s = deploy::wait_for_tcp("127.0.0.1:" + std::to_string(n.port), 60'000); !s.ok()) {
      run.error = std::string(n.id) + " did not come up: " + s.reason();
      return run;
    }
  }
  traffic::SourceOptions so;
  so.endpoint = cell->ingest_endpoint;
  so.server_public_z85 = cell->gateway_curve_public;
  so.keys = cell->source;
  so.source_id = cell->source_id;
  so.body_bytes = body_bytes;
  so.items = items;
  so.window = 1024;
  traffic::ConsumerOptions co;
  co.endpoint = cell->deliver_endpoint;
  co.server_public_z85 = cell->receiver_curve_public;
  co.keys = cell->consumer;
  co.window = 2048;
  traffic::SourceCounters sc;
  traffic::ConsumerCounters cc;
  std::atomic<bool> stop_source{false}, stop_consumer{false}, source_done{false};
  Status source_status, consumer_status;
  std::map<std::string, std::uint64_t> written_at_start;
  auto sample_usage = [&](bool at_start) {
    for (auto& n : nodes) {
      if (!n.process) continue;
      auto u = n.process->usage();
      if (!u.ok()) continue;
      if (at_start) written_at_start[n.id] = u->write_bytes;
      auto& peak = run.peak_anon_kb[n.id];
      peak = std::max(peak, u->rss_anon_kb);
    }
  };
  sample_usage(true);
  auto sampled_at = SteadyClock::now();
  const auto start = SteadyClock::now();
  const double cpu_at_start = self_cpu_seconds();
  std::thread consumer(
      [&] { consumer_status = traffic::run_consumer(co, **expect, cc, stop_consumer); });
  std::thread source([&] {
    source_status = traffic::run_source(so, **expect, sc, stop_source);
    source_done.store(true);
  });
  auto show = [&] {
    if (!progress) return;
    const double frac = static_cast<double>(cc.verified.load()) / static_cast<double>(items);
    const int width = 30, filled = static_cast<int>(std::min(1.0, frac) * width);
    std::fprintf(stderr, "\r\033[K  %-10s [%s%s] %5.1f s  sent %llu  delivered %llu", label.c_str(),
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), '.').c_str(),
                 seconds_since(start), static_cast<unsigned long long>(sc.sent.load()),
                 static_cast<unsigned long long>(cc.verified.load()));
  };
  auto last_change = SteadyClock::now();
  std::uint64_t last_verified = 0;
  auto last_delivery = start;
  for (;;) {
    show();
    if (seconds_since(sampled_at) >= 0.1) {
      sample_usage(false);
      sampled_at = SteadyClock::now();
    }
    const std::uint64_t v = cc.verified.load() + cc.differing.load();
    if (v != last_verified) {
      last_verified = v;
      last_change = last_delivery = SteadyClock::now();
    }
    if (source_done.load()) {
      if (!source_status.ok()) break;
      if (v >= (*expect)->totals().accepted_releasable) break;
    }
    if (seconds_since(last_change) > 30) break;  // no progress: report what arrived
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  run.seconds = std::chrono::duration<double>(last_delivery - start).count();
  if (progress) std::fprintf(stderr, "\n");
  run.clients_cpu_seconds = self_cpu_seconds() - cpu_at_start;
  std::map<std::string, std::string> expo;
  for (auto& n : nodes) {
    if (!n.process) continue;
    expo[n.id] = scrape_or_empty(n.port);
    if (auto u = n.process->usage(); u.ok()) {
      run.usage[n.id] = *u;
      run.written_bytes[n.id] = u->write_bytes - std::min(u->write_bytes, written_at_start[n.id]);
      run.peak_anon_kb[n.id] = std::max(run.peak_anon_kb[n.id], u->rss_anon_kb);
    }
  }
  stop_source.store(true);
  source.join();
  stop_consumer.store(true);
  consumer.join();
  for (auto it = std::rbegin(nodes); it != std::rend(nodes); ++it)  // upstream first
    if (it->process) it->process->terminate(10'000);
  const auto t = (*expect)->totals();
  run.sent = sc.sent.load();
  run.accepted = t.accepted;
  run.releasable = t.accepted_releasable;
  run.delivered = cc.verified.load();
  run.differing = cc.differing.load();
  run.unexpected = cc.unexpected.load();
  run.duplicates = cc.duplicates.load();
  run.overloaded = sc.refused_overloaded.load();
  if (const auto n = sc.accepted.load(); n > 0)
    run.item_bytes = static_cast<std::size_t>(sc.accepted_bytes.load() / n);
  run.lost = static_cast<std::uint64_t>(
      sample(expo["us-relay"], "cellgate_relay_lost_on_links_total", "us-relay") +
      sample(expo["sy-rx-1"], "cellgate_receiver_lost_on_link_total", "sy-rx-1"));
  run.backpressure_waits = static_cast<std::uint64_t>(
      sample(expo["il-gw-1"], "cellgate_ingest_backpressure_waits_total", "il-gw-1"));
  run.envelope_bytes = static_cast<std::uint64_t>(
      deploy::metric(expo["il-gw-1"],
                     "cellgate_link_envelope_bytes_submitted_total{link=\"to-us\"}")
          .value_or(0));
  run.latencies = (*expect)->latencies();
  if (!source_status.ok()) run.error = "source: " + source_status.reason();
  if (run.error.empty() && !consumer_status.ok())
    run.error = "consumer: " + consumer_status.reason();
  if (run.error.empty() && run.delivered < run.releasable)
    run.error = std::to_string(run.releasable - run.delivered) +
                " releasable items not delivered within 30 s of the last delivery";
  return run;
}

// The gateway's durable writes per released item, as its store grows: the inbox entry (then
// consumed), the audit record with its explanation, the sent envelope kept for retention
// (about the item plus 200 bytes), 256 items per transaction as a pipeline pass commits them.
// The rate over the last tenth before each checkpoint (10^5, 10^6, ...), so a store that
// slows as it grows shows it.
struct GrowthPoint {
  std::uint64_t items = 0;
  double items_per_s = 0;
  std::size_t store_bytes = 0;
  double written_per_item = 0;  // bytes this process wrote to storage per item, that tenth
  std::size_t item_bytes = 0;
};

// This process's bytes written to storage so far (/proc/self/io), 0 where not accounted.
std::uint64_t self_write_bytes() {
  std::ifstream in("/proc/self/io");
  std::string key;
  std::uint64_t value = 0;
  while (in >> key >> value)
    if (key == "write_bytes:") return value;
  return 0;
}
Result<std::vector<GrowthPoint>> store_growth(const std::string& dir, std::uint64_t max_items,
                                              std::size_t body_bytes, bool progress) {
  synth::Generator gen({.seed = 3, .body_bytes = body_bytes});
  std::vector<std::vector<std::uint8_t>> items;
  std::size_t item_max = 0;
  for (int i = 0; i < 64; ++i) {
    items.push_back(gen.next_bytes());
    item_max = std::max(item_max, items.back().size());
  }
  // The map from what is kept per item (the envelope and the audit record stay; the inbox
  // entry is consumed but its pages are reused only after the transaction), with room for
  // LMDB's half-full pages: twice that, rounded to whole pages, plus 64 MiB. A fixed figure
  // per item overflowed at 64 KiB (MDB_MAP_FULL).
  const std::size_t kept_per_item = ((2 * item_max + 1024 + 4095) / 4096) * 4096;
  CG_ASSIGN_OR_RETURN(auto env,
                      store::Env::open({.path = dir,
                                        .map_bytes = static_cast<std::size_t>(
                                            max_items * 2 * kept_per_item + (64u << 20))}));
  CG_ASSIGN_OR_RETURN(auto inbox, ingest::Inbox::open(*env));
  CG_ASSIGN_OR_RETURN(auto audit_log,
                      audit::AuditLog::open(*env, "il-gw-1", crypto::modern_suite()));
  CG_ASSIGN_OR_RETURN(auto sent, sentlog::SentLog::open(*env));
  std::vector<std::uint8_t> envelope(items[0].size() + 200, 0x5a);
  const std::string why =
      "released under rule intelligence-shared-topics (v3): topics border; dropped 1 portion "
      "above RESTRICTED, attributes source.*";
  std::vector<GrowthPoint> points;
  std::uint64_t checkpoint = 100'000, window_from = checkpoint - checkpoint / 10;
  SteadyClock::time_point window_start = SteadyClock::now();
  std::uint64_t written_from = self_write_bytes();
  std::uint64_t item_bytes_total = 0;
  for (const auto& i : items) item_bytes_total += i.size();
  std::vector<std::uint8_t> id(16);
  for (std::uint64_t n = 0; n < max_items;) {
    CG_ASSIGN_OR_RETURN(auto txn, env->begin_write());
    std::uint64_t last_inbox = 0;
    for (int i = 0; i < 256 && n < max_items; ++i, ++n) {
      if (n == window_from) {
        window_start = SteadyClock::now();
        written_from = self_write_bytes();
      }
      for (int b = 0; b < 8; ++b) id[b] = static_cast<std::uint8_t>(n >> (8 * b));
      const auto& item = items[n % items.size()];
      CG_ASSIGN_OR_RETURN(auto a,
                          inbox.append(txn, id, "il-src-1", static_cast<std::int64_t>(n), item));
      last_inbox = a.seq;
      CG_ASSIGN_OR_RETURN(const auto seq, sent.next_seq(txn, {"sy", 0}));
      audit::Event ev{.time_ns = static_cast<std::int64_t>(n),
                      .event = schema::AuditEvent::REDACTED,
                      .item_id = id,
                      .origin = "il-gw-1",
                      .destination = "sy",
                      .seq = seq,
                      .rules_version = 3,
                      .reason = "released",
                      .detail = why};
      CG_RETURN_IF_ERROR(audit_log.append(txn, ev).status());
      CG_RETURN_IF_ERROR(sent.put(txn, {"sy", 0}, seq, static_cast<std::int64_t>(n), envelope));
    }
    CG_RETURN_IF_ERROR(inbox.consume_through(txn, last_inbox));
    CG_RETURN_IF_ERROR(txn.commit());
    if (progress && n % 25'600 == 0)
      std::fprintf(stderr, "\r\033[K  store growth  %llu / %llu items",
                   static_cast<unsigned long long>(n), static_cast<unsigned long long>(max_items));
    if (n >= checkpoint) {
      const double secs = seconds_since(window_start);
      points.push_back({checkpoint, static_cast<double>(n - window_from) / secs, env->used_bytes(),
                        static_cast<double>(self_write_bytes() - written_from) /
                            static_cast<double>(n - window_from),
                        static_cast<std::size_t>(item_bytes_total / items.size())});
      checkpoint *= 10;
      window_from = checkpoint - checkpoint / 10;
    }
  }
  if (progress) std::fprintf(stderr, "\n");
  return points;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      o += '\\';
      o += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else {
      o += c;
    }
  }
  return o;
}

std::string machine() {
  std::string model = "?";
  std::ifstream cpu("/proc/cpuinfo");
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  long mem_kb = 0;
  std::ifstream mem("/proc/meminfo");
  for (std::string line; std::getline(mem, line);) {
    if (line.rfind("MemTotal:", 0) == 0) mem_kb = std::atol(line.c_str() + 9);
  }
  double load = 0;
  std::ifstream la("/proc/loadavg");
  la >> load;
  char b[256];
  std::snprintf(b, sizeof b, "%u cores (%s), %.1f GiB, load average %.2f at the start",
                std::thread::hardware_concurrency(), model.c_str(),
                static_cast<double>(mem_kb) / 1048576.0, load);
  return b;
}

struct Goal {
  std::string what, measured, target;
  std::optional<bool> met;  // nullopt: not measured in this run
};

}  // namespace

int bench(const BenchOptions& o) {
  const bool progress = o.progress && tty();
  std::printf("cellgate bench — %s\n\n", machine().c_str());
  std::ostringstream json;
  json << "{\"machine\":\"" << json_escape(machine()) << "\"";
  std::vector<Goal> goals;
  bool failed = false;

  // --- Micro ------------------------------------------------------------------------------
  Collector collector(progress);
  if (o.micro) {
    auto text = crypto::read_file(o.policy, limits::policy_bytes_max);
    if (!text.ok()) {
      std::fprintf(stderr, "bench: %s (run from the repository root or pass --policy)\n",
                   text.status().reason().c_str());
      return exit_io;
    }
    if (auto s = micro::register_micro({reinterpret_cast<const char*>(text->data()), text->size()});
        !s.ok()) {
      std::fprintf(stderr, "bench: %s\n", s.reason().c_str());
      return exit_usage;
    }
    std::string min_time = "--benchmark_min_time=" + std::to_string(o.min_time);
    std::string filter = "--benchmark_filter=" + (o.filter.empty() ? std::string(".") : o.filter);
    std::string prog = "cellgate-bench";
    char* argv[] = {prog.data(), min_time.data(), filter.data(), nullptr};
    int argc = 3;
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks(&collector);
    micro::clear_micro();
    std::printf("%-34s %14s %12s %12s\n", "micro-benchmark (one core)", "items/s", "µs/item",
                "MB/s");
    json << ",\"micro\":[";
    bool first = true;
    for (const auto& m : collector.results) {
      if (!m.error.empty()) {
        std::printf("%-34s  failed: %s\n", m.name.c_str(), m.error.c_str());
        failed = true;
      } else {
        std::printf("%-34s %14.0f %12.2f %12.1f\n", m.name.c_str(), m.items_per_s,
                    m.items_per_s > 0 ? 1e6 / m.items_per_s : 0, m.bytes_per_s / 1e6);
      }
      json << (first ? "" : ",") << "{\"name\":\"" << json_escape(m.name)
           << "\",\"items_per_second\":" << m.items_per_s
           << ",\"bytes_per_second\":" << m.bytes_per_s;
      for (const auto& [k, v] : m.counters) json << ",\"" << json_escape(k) << "\":" << v;
      if (!m.error.empty()) json << ",\"error\":\"" << json_escape(m.error) << "\"";
      json << "}";
      first = false;
    }
    json << "]";
    std::printf("\n");
  }
  auto rate = [&](const std::string& name) -> std::optional<double> {
    const Micro* m = collector.find(name);
    return m ? std::optional<double>(m->items_per_s) : std::nullopt;
  };
  // The crypto floor: per item, hash + AEAD + Cap'n Proto build/parse + 1/256 of a signature.
  auto floor_of = [&](const std::string& suite, const std::string& size) -> std::optional<double> {
    auto h = rate("floor_hash/" + suite + "/" + size), a = rate("floor_aead/" + suite + "/" + size),
         c = rate("floor_capnp/" + size), s = rate("floor_sign/" + suite);
    if (!h || !a || !c || !s) return std::nullopt;
    return 1.0 / (1.0 / *h + 1.0 / *a + 1.0 / *c + 1.0 / (*s * 256.0));
  };
  char buf[256];
  {
    const auto hot = rate("hot_path/modern/1KiB");
    const auto fl = floor_of("modern", "1KiB");
    const auto naive = rate("naive/1KiB");
    Goal g{"gateway hot path, 1 KiB, modern: ≥ 75% of the crypto floor", "", ">= 0.75", {}};
    if (hot && fl) {
      std::snprintf(buf, sizeof buf, "%.0f / %.0f items/s = %.2f", *hot, *fl, *hot / *fl);
      g.measured = buf;
      g.met = *hot / *fl >= 0.75;
    }
    goals.push_back(g);
    Goal n{"gateway hot path, 1 KiB, modern: ≥ 6x the naive baseline", "", ">= 6", {}};
    if (hot && naive) {
      std::snprintf(buf, sizeof buf, "%.0f / %.0f items/s = %.1fx", *hot, *naive, *hot / *naive);
      n.measured = buf;
      n.met = *hot / *naive >= 6;
    }
    goals.push_back(n);
    const Micro* big = collector.find("hot_path/modern/64KiB");
    Goal b{"gateway hot path, 64 KiB items: ≥ 3 Gb/s per core", "", ">= 3 Gb/s", {}};
    if (big) {
      std::snprintf(buf, sizeof buf, "%.2f Gb/s", big->bytes_per_s * 8 / 1e9);
      b.measured = buf;
      b.met = big->bytes_per_s * 8 / 1e9 >= 3;
    }
    goals.push_back(b);
    const auto unguarded = rate("hot_path_unguarded/modern/1KiB");
    Goal gc{"the release guard adds ≤ 25% to the gateway's CPU per item (hot path, 1 KiB, modern)",
            "",
            "<= 1.25x",
            {}};
    if (hot && unguarded) {
      std::snprintf(buf, sizeof buf, "%.0f with vs %.0f items/s without = %.2fx the CPU", *hot,
                    *unguarded, *unguarded / *hot);
      gc.measured = buf;
      gc.met = *unguarded / *hot <= 1.25;
    }
    goals.push_back(gc);
    const auto r10 = rate("rules/10/modern/1KiB"), r10k = rate("rules/10000/modern/1KiB");
    Goal r{"10,000 rules within 3x of 10 (hot path, 1 KiB)", "", "<= 3x", {}};
    if (r10 && r10k) {
      std::snprintf(buf, sizeof buf, "%.0f vs %.0f items/s = %.2fx slower", *r10k, *r10,
                    *r10 / *r10k);
      r.measured = buf;
      r.met = *r10 / *r10k <= 3;
    }
    goals.push_back(r);
    // Issue 18's per-node goals need each node run alone on its own core (the gateway fed by
    // a CurveZMQ source with its link to a counting sink; relay and receiver fed by a replay
    // of recorded link traffic). That harness does not exist yet: said, not guessed.
    const std::pair<const char*, const char*> per_node[] = {
        {"gateway node alone, 1 KiB: ≥ 50% of its hot path, items/s per core", ">= 0.5"},
        {"relay node alone, 1 KiB: ≥ 50k envelopes/s per core", ">= 50000"},
        {"receiver node alone, 1 KiB: ≥ 50k envelopes/s per core", ">= 50000"}};
    for (const auto& [what, target] : per_node) {
      goals.push_back({what,
                       "no per-node harness yet (see the whole cell's CPU per item per node)",
                       target,
                       {}});
    }
    for (const char* s : {"modern", "cnsa"}) {
      for (const char* z : {"256B", "1KiB", "64KiB"}) {
        const auto f = floor_of(s, z);
        const auto h = rate(std::string("hot_path/") + s + "/" + z);
        if (f && h)
          std::printf(
              "crypto floor %-6s %-5s %10.0f items/s; hot path %10.0f items/s = %.2f of it\n", s, z,
              *f, *h, *h / *f);
      }
    }
    std::printf("\n");
  }

  // --- The cell ---------------------------------------------------------------------------
  if (o.cell) {
    std::string dir = (std::filesystem::temp_directory_path() / "cellgate-bench-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) {
      std::fprintf(stderr, "bench: cannot create a temporary folder\n");
      return exit_io;
    }
    struct Cleanup {
      std::string d;
      ~Cleanup() {
        std::error_code ec;
        if (!d.empty()) std::filesystem::remove_all(d, ec);
      }
    } cleanup{dir};
    const std::string policy_file = dir + "/bench-policy.toml";
    std::ofstream(policy_file) << bench_policy;
    std::printf(
        "end to end: source → il-gw-1 → us-relay → sy-rx-1 → consumer, each node its own "
        "process,\n%llu items of %zu text bytes, mixed precedences, bench policy "
        "(releases all that markings allow)\n",
        static_cast<unsigned long long>(o.e2e_items), o.body_bytes);
    auto report = [&](const char* name, const CellRun& r) {
      std::printf("  %-10s %s\n", name, r.error.empty() ? "" : ("stopped: " + r.error).c_str());
      std::printf(
          "    %llu sent, %llu acknowledged, %llu releasable, %llu delivered "
          "byte-identical, %llu differing, %llu unexpected, %llu twice, %llu lost on "
          "links; %llu refused as overloaded and re-sent\n",
          static_cast<unsigned long long>(r.sent), static_cast<unsigned long long>(r.accepted),
          static_cast<unsigned long long>(r.releasable),
          static_cast<unsigned long long>(r.delivered),
          static_cast<unsigned long long>(r.differing),
          static_cast<unsigned long long>(r.unexpected),
          static_cast<unsigned long long>(r.duplicates), static_cast<unsigned long long>(r.lost),
          static_cast<unsigned long long>(r.overloaded));
      std::printf(
          "    %.0f items/s delivered, %.1f MB/s of envelopes, in %.2f s; nothing lost: %s\n",
          r.items_per_s(),
          r.seconds > 0 ? static_cast<double>(r.envelope_bytes) / r.seconds / 1e6 : 0, r.seconds,
          r.lossless() ? "yes" : "NO");
      for (const auto* id : node_ids) {
        auto u = r.usage.find(id);
        if (u == r.usage.end()) continue;
        const auto anon = r.peak_anon_kb.find(id);
        const auto wrote = r.written_bytes.find(id);
        const double written =
            wrote == r.written_bytes.end() ? 0 : static_cast<double>(wrote->second);
        std::printf(
            "    %-10s cpu %6.2f s = %6.1f µs per item, peak RSS %6.1f MiB (anonymous %6.1f "
            "MiB), wrote %7.1f MiB = %7.0f B per item\n",
            id, u->second.cpu_seconds,
            r.delivered ? u->second.cpu_seconds * 1e6 / static_cast<double>(r.delivered) : 0,
            static_cast<double>(u->second.peak_rss_kb) / 1024.0,
            anon == r.peak_anon_kb.end() ? 0 : static_cast<double>(anon->second) / 1024.0,
            written / 1048576.0, r.delivered ? written / static_cast<double>(r.delivered) : 0);
      }
      if (auto f = r.usage.find("il-gw-1"), g = r.usage.find("il-guard-1");
          f != r.usage.end() && g != r.usage.end() && f->second.cpu_seconds > 0) {
        const double both = f->second.cpu_seconds + g->second.cpu_seconds;
        std::printf(
            "    il-gw-1 + il-guard-1: %.1f µs per item together; the guard's process (its own "
            "check, seal and sign) %.0f %% of it\n",
            r.delivered ? both * 1e6 / static_cast<double>(r.delivered) : 0,
            100.0 * g->second.cpu_seconds / both);
      }
      std::printf(
          "    clients   cpu %6.2f s = %6.1f µs per item (source and consumer, this "
          "process: generating, judging, checking)\n",
          r.clients_cpu_seconds,
          r.delivered ? r.clients_cpu_seconds * 1e6 / static_cast<double>(r.delivered) : 0);
      for (const auto& [p, v] : r.latencies) {
        std::printf("    latency %-9s p50 %8.2f ms  p99 %8.2f ms  p99.9 %8.2f ms  (%zu items)\n",
                    precedence_name(p), traffic::percentile(v, 0.5), traffic::percentile(v, 0.99),
                    traffic::percentile(v, 0.999), v.size());
      }
      json << ",\"" << name << "\":{\"items\":" << r.delivered << ",\"seconds\":" << r.seconds
           << ",\"items_per_second\":" << r.items_per_s()
           << ",\"envelope_bytes\":" << r.envelope_bytes
           << ",\"lossless\":" << (r.lossless() ? "true" : "false")
           << ",\"refused_overloaded\":" << r.overloaded
           << ",\"backpressure_waits\":" << r.backpressure_waits << ",\"nodes\":{";
      bool first = true;
      for (const auto& [id, u] : r.usage) {
        json << (first ? "" : ",") << "\"" << id << "\":{\"cpu_seconds\":" << u.cpu_seconds
             << ",\"peak_rss_kb\":" << u.peak_rss_kb
             << ",\"peak_rss_anon_kb\":" << (r.peak_anon_kb.count(id) ? r.peak_anon_kb.at(id) : 0)
             << ",\"written_bytes\":" << (r.written_bytes.count(id) ? r.written_bytes.at(id) : 0)
             << "}";
        first = false;
      }
      json << "},\"item_bytes\":" << r.item_bytes
           << ",\"clients_cpu_seconds\":" << r.clients_cpu_seconds << ",\"latency_ms\":{";
      first = true;
      for (const auto& [p, v] : r.latencies) {
        json << (first ? "" : ",") << "\"" << precedence_name(p)
             << "\":{\"p50\":" << traffic::percentile(v, 0.5)
             << ",\"p99\":" << traffic::percentile(v, 0.99)
             << ",\"p999\":" << traffic::percentile(v, 0.999) << ",\"n\":" << v.size() << "}";
        first = false;
      }
      json << "}";
      if (!r.error.empty()) json << ",\"error\":\"" << json_escape(r.error) << "\"";
      json << "}";
    };
    const auto sat = run_cell("saturated", dir + "/saturated", policy_file, o.e2e_items,
                              o.body_bytes, 400'000'000, 100'000, progress);
    report("saturated", sat);
    failed |= !sat.lossless();
    Goal e{"whole cell on 2 cores, 1 KiB: ≥ 30k items/s delivered, nothing lost",
           "",
           ">= 30000, lossless",
           {}};
    if (sat.error.empty()) {
      std::snprintf(buf, sizeof buf, "%.0f items/s, lossless: %s", sat.items_per_s(),
                    sat.lossless() ? "yes" : "no");
      e.measured = buf;
      e.met = sat.lossless() && sat.items_per_s() >= 30000;
    }
    goals.push_back(e);
    // Durable bytes: what the gateway's process wrote to storage (its store, fdatasync'd per
    // transaction) per delivered item, against the item's own size.
    Goal w{"durable bytes written per released item (gateway's store) ≤ 2x the item's size",
           "",
           "<= 2x",
           {}};
    if (auto it = sat.written_bytes.find("il-gw-1"); sat.error.empty() &&
                                                     it != sat.written_bytes.end() &&
                                                     sat.delivered > 0 && sat.item_bytes > 0) {
      const double per_item = static_cast<double>(it->second) / static_cast<double>(sat.delivered);
      const auto guard = sat.written_bytes.find("il-guard-1");
      const double guard_per_item =
          guard == sat.written_bytes.end()
              ? 0
              : static_cast<double>(guard->second) / static_cast<double>(sat.delivered);
      std::snprintf(buf, sizeof buf,
                    "%.0f B per item of %zu B = %.1fx (the guard's store another %.1fx)", per_item,
                    sat.item_bytes, per_item / static_cast<double>(sat.item_bytes),
                    guard_per_item / static_cast<double>(sat.item_bytes));
      w.measured = buf;
      if (it->second == 0)
        w.measured += "; no writes accounted (tmpfs?)";
      else
        w.met = per_item <= 2.0 * static_cast<double>(sat.item_bytes);
    }
    goals.push_back(w);
    Goal f{"FLASH under saturating load: end-to-end p99 ≤ 5 ms", "", "<= 5 ms", {}};
    if (auto it = sat.latencies.find(schema::Precedence::FLASH); it != sat.latencies.end()) {
      const double p99 = traffic::percentile(it->second, 0.99);
      std::snprintf(buf, sizeof buf, "p99 %.2f ms (%zu flash items)", p99, it->second.size());
      f.measured = buf;
      f.met = p99 <= 5.0;
    }
    goals.push_back(f);

    // The same run with the guard in the filter's process (a lab mode: the filter then holds
    // the key), as the baseline of what the separate guard process costs.
    const auto one = run_cell("one process", dir + "/one-process", policy_file, o.e2e_items,
                              o.body_bytes, 400'000'000, 100'000, progress, false);
    report("one_process", one);
    failed |= !one.lossless();
    if (auto g = sat.usage.find("il-guard-1"), f1 = sat.usage.find("il-gw-1"),
        f0 = one.usage.find("il-gw-1");
        g != sat.usage.end() && f1 != sat.usage.end() && f0 != one.usage.end() &&
        sat.delivered > 0 && one.delivered > 0 && f0->second.cpu_seconds > 0) {
      const double split =
          (f1->second.cpu_seconds + g->second.cpu_seconds) / static_cast<double>(sat.delivered);
      const double joint = f0->second.cpu_seconds / static_cast<double>(one.delivered);
      std::printf(
          "  the separate guard process: filter + guard %.1f µs per item vs %.1f µs in one "
          "process (%.2fx); %.0f vs %.0f items/s delivered\n",
          split * 1e6, joint * 1e6, split / joint, sat.items_per_s(), one.items_per_s());
    }

    // 10x overload: the links carry a tenth of what the saturated run carried (the pace
    // counts datagram bytes: envelopes plus about a third for parity and headers), the source
    // offers as fast as it can, and the gateway's inbox is small enough (below) that
    // back-pressure reaches the source within seconds. At 1 KiB and at 64 KiB.
    auto overload = [&](const char* name, const CellRun& saturated, std::size_t body,
                        std::uint64_t items) {
      // 2,000 items at 1 KiB; at 64 KiB 200 (12.5 MiB), so that the items offered outgrow it.
      const bool bulk = body >= 32 * 1024;
      const std::uint64_t overload_inbox = bulk ? 200 : 2000;
      const double bytes_per_s =
          saturated.seconds > 0 ? static_cast<double>(saturated.envelope_bytes) / saturated.seconds
                                : 1e7;
      const auto slow = static_cast<std::uint64_t>(std::max(1e6, bytes_per_s / 10 * 4 / 3));
      std::printf(
          "  %s: links paced at %.2f MB/s (a tenth of the saturated run's rate), "
          "inbox of %llu items, %llu items of %zu bytes offered as fast as the source can\n",
          name, static_cast<double>(slow) / 1e6, static_cast<unsigned long long>(overload_inbox),
          static_cast<unsigned long long>(items), body);
      const auto over = run_cell(name, dir + "/" + name, policy_file, items, body, slow,
                                 overload_inbox, progress);
      report(name, over);
      failed |= !over.lossless();
      Goal ov{std::string("10x overload, ") + (bulk ? "64 KiB" : "1 KiB") +
                  ": anonymous RSS ≤ 512 MiB per node, back-pressure, nothing lost",
              "",
              "<= 512 MiB, lossless",
              {}};
      if (over.error.empty()) {
        std::uint64_t peak = 0, anon = 0;
        for (const auto& [id, u] : over.usage) peak = std::max(peak, u.peak_rss_kb);
        for (const auto& [id, a] : over.peak_anon_kb) anon = std::max(anon, a);
        std::snprintf(buf, sizeof buf,
                      "peak anonymous RSS %.0f MiB (all resident %.0f MiB); %llu ingest "
                      "back-pressure waits, %llu refusals as overloaded (re-sent); lossless: %s",
                      static_cast<double>(anon) / 1024.0, static_cast<double>(peak) / 1024.0,
                      static_cast<unsigned long long>(over.backpressure_waits),
                      static_cast<unsigned long long>(over.overloaded),
                      over.lossless() ? "yes" : "no");
        ov.measured = buf;
        // Back-pressure seen: ingest stopped reading with the inbox full, or refused as
        // overloaded (the source keeps and re-sends those).
        const bool held_back = over.backpressure_waits > 0 || over.overloaded > 0;
        if (!held_back) ov.measured += "; the source was never held back: not a real overload";
        ov.met = anon <= 512 * 1024 && over.lossless() && held_back;
      } else {
        ov.measured = "stopped: " + over.error;
        ov.met = false;
      }
      goals.push_back(ov);
    };
    // Enough that what the policy releases outgrows the inbox and the link sender's staging
    // (4 MiB) together, so the source must be held back.
    overload("overload", sat, o.body_bytes, std::max<std::uint64_t>(20'000, o.e2e_items / 3));

    // 64 KiB items, saturated: the bulk case (Gb/s of items delivered, nothing lost).
    constexpr std::size_t big_body = 64 * 1024 - 512;  // with its envelope, about 64 KiB
    const std::uint64_t big_items = std::max<std::uint64_t>(2'000, o.e2e_items / 25);
    const auto big = run_cell("64KiB", dir + "/saturated-64k", policy_file, big_items, big_body,
                              400'000'000, 100'000, progress);
    report("saturated_64k", big);
    failed |= !big.lossless();
    Goal gb{"whole cell on 2 cores, 64 KiB: ≥ 2 Gb/s of items delivered, nothing lost",
            "",
            ">= 2 Gb/s, lossless",
            {}};
    if (big.error.empty() || big.delivered > 0) {
      const double gbps = big.seconds > 0
                              ? static_cast<double>(big.delivered) *
                                    static_cast<double>(big.item_bytes) * 8 / big.seconds / 1e9
                              : 0;
      std::snprintf(buf, sizeof buf, "%.2f Gb/s (%.0f items/s), lossless: %s%s", gbps,
                    big.items_per_s(), big.lossless() ? "yes" : "no",
                    big.lost ? (", " + std::to_string(big.lost) + " lost on links").c_str() : "");
      gb.measured = buf;
      gb.met = big.lossless() && gbps >= 2.0;
    }
    goals.push_back(gb);
    overload("overload_64k", big, big_body, std::max<std::uint64_t>(2'000, o.e2e_items / 25));
    if (failed) cleanup.d.clear();  // keep the deployments and node logs for a look
    if (failed) std::printf("  node logs kept in %s\n", dir.c_str());
  }
  if (o.growth_items >= 100'000) {
    std::string dir = (std::filesystem::temp_directory_path() / "cellgate-growth-XXXXXX").string();
    if (::mkdtemp(dir.data()) == nullptr) return exit_io;
    std::printf(
        "\nstore growth: the gateway's durable writes per released item (inbox, audit "
        "record, sent envelope),\n256 per transaction, on this machine's disk, up to %llu "
        "items\n",
        static_cast<unsigned long long>(o.growth_items));
    auto points = store_growth(dir, o.growth_items, o.body_bytes, progress);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    json << ",\"store_growth\":[";
    if (!points.ok()) {
      std::printf("  failed: %s\n", points.status().reason().c_str());
      failed = true;
    } else {
      bool first = true;
      for (const auto& p : *points) {
        std::printf(
            "  at %9llu items: %9.0f items/s (over the last tenth), store %7.1f MiB, wrote "
            "%6.0f B per item of %zu B (%.1fx)\n",
            static_cast<unsigned long long>(p.items), p.items_per_s,
            static_cast<double>(p.store_bytes) / 1048576.0, p.written_per_item, p.item_bytes,
            p.item_bytes ? p.written_per_item / static_cast<double>(p.item_bytes) : 0);
        json << (first ? "" : ",") << "{\"items\":" << p.items
             << ",\"items_per_second\":" << p.items_per_s << ",\"store_bytes\":" << p.store_bytes
             << ",\"written_bytes_per_item\":" << p.written_per_item << "}";
        first = false;
      }
    }
    json << "]";
    Goal g{"store growth: the rate at 10^6 items within 10% of the rate at 10^5", "", ">= 0.9", {}};
    if (points.ok() && points->size() >= 2) {
      const auto& a = points->front();
      const auto& b = points->back();
      std::snprintf(buf, sizeof buf, "%.0f items/s at %llu vs %.0f at %llu = %.2f", b.items_per_s,
                    static_cast<unsigned long long>(b.items), a.items_per_s,
                    static_cast<unsigned long long>(a.items), b.items_per_s / a.items_per_s);
      g.measured = buf;
      if (b.items >= 1'000'000)
        g.met = b.items_per_s / a.items_per_s >= 0.9;
      else
        g.measured += " (10^6 not run: --growth-items 1000000)";
    }
    goals.push_back(g);
  }

  std::printf("\n%-70s %s\n", "goal", "measured in this run");
  json << ",\"goals\":[";
  bool first = true;
  for (const auto& g : goals) {
    const char* verdict = !g.met ? "not measured" : *g.met ? "met" : "NOT met";
    std::printf("%-70s %s — %s\n", g.what.c_str(), g.measured.empty() ? "-" : g.measured.c_str(),
                verdict);
    json << (first ? "" : ",") << "{\"goal\":\"" << json_escape(g.what) << "\",\"measured\":\""
         << json_escape(g.measured) << "\",\"target\":\"" << json_escape(g.target) << "\",\"met\":"
         << (!g.met   ? "null"
             : *g.met ? "true"
                      : "false")
         << "}";
    first = false;
  }
  json << "]}\n";
  if (!o.json.empty()) {
    std::error_code ec;
    const auto parent = std::filesystem::path(o.json).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    std::ofstream out(o.json);
    out << json.str();
    if (!out) {
      std::fprintf(stderr, "bench: cannot write %s\n", o.json.c_str());
      return exit_io;
    }
    std::printf("\nJSON: %s\n", o.json.c_str());
  }
  return failed ? exit_failed : exit_ok;
}

}  // namespace cg::lab
