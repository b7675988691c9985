// The one-way link: CPU cost of its parts (frame MAC, Reed–Solomon, the sender and receiver
// pipelines at 1 KiB and 64 KiB envelopes) and a two-endpoint loopback run (UdpSender →
// UdpReceiver over 127.0.0.1, one thread each) measuring goodput against the pacing rate.
// Results and the command: bench/RESULTS.md, "Link (issue 6)".
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "gateway/link/fec.h"
#include "gateway/link/frame.h"
#include "gateway/link/link.h"

namespace cg::link {
namespace {

crypto::Secret bench_key() {
  std::vector<std::uint8_t> k(link_key_bytes, 0x5A);
  return crypto::Secret::copy_of(k);
}

SenderOptions sender_options(std::uint64_t pace) {
  SenderOptions o;
  o.settings.link_id = 1;  // k = 64, m = 16, 1472-byte datagrams
  o.pace_bytes_per_s = pace;
  o.session = 1;
  o.staging_bytes_max = 16u << 20;
  return o;
}

ReceiverOptions receiver_options() {
  ReceiverOptions o;
  o.settings.link_id = 1;
  o.block_timeout_ns = 300 * ns_per_ms;
  return o;
}

// --- Parts ------------------------------------------------------------------------------

void BM_FrameWriteMac(benchmark::State& state) {
  const auto key = bench_key();
  const std::vector<std::uint8_t> payload(static_cast<std::size_t>(state.range(0)), 7);
  std::vector<std::uint8_t> out(frame_overhead_bytes + payload.size());
  FrameHeader h;
  h.k = 64;
  h.m = 16;
  h.block = 1;
  h.count = 1;
  h.block_len = 64 * static_cast<std::uint32_t>(payload.size());
  for (auto _ : state) benchmark::DoNotOptimize(write_frame(h, payload, key, out));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_FrameWriteMac)->Arg(1404);

void BM_FrameParseMac(benchmark::State& state) {
  const auto key = bench_key();
  const std::vector<std::uint8_t> payload(static_cast<std::size_t>(state.range(0)), 7);
  std::vector<std::uint8_t> out(frame_overhead_bytes + payload.size());
  FrameHeader h;
  h.k = 64;
  h.m = 16;
  h.block = 1;
  h.count = 1;
  h.block_len = 64 * static_cast<std::uint32_t>(payload.size());
  write_frame(h, payload, key, out);
  for (auto _ : state) benchmark::DoNotOptimize(parse_frame(out, key, 1472).ok());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_FrameParseMac)->Arg(1404);

// One block of k data fragments of 1404 bytes (a full block at 1472-byte datagrams).
void BM_FecEncode(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0)), m = static_cast<int>(state.range(1));
  const std::size_t len = 1404;
  std::vector<std::uint8_t> frags((k + m) * len, 3);
  Fec fec;
  for (auto _ : state) {
    fec.encode(k, m, len, frags);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * k * len));
}
BENCHMARK(BM_FecEncode)->Args({64, 16})->Args({16, 4});

// Decoding with m of the k data fragments lost (the worst case: m rows to rebuild).
void BM_FecDecode(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0)), m = static_cast<int>(state.range(1));
  const std::size_t len = 1404;
  std::vector<std::uint8_t> frags((k + m) * len, 3);
  Fec fec;
  fec.encode(k, m, len, frags);
  std::vector<std::uint8_t> present(k + m, 1);
  for (int i = 0; i < m; ++i) present[i * (k / m)] = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(fec.decode(k, m, len, frags, present));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * k * len));
}
BENCHMARK(BM_FecDecode)->Args({64, 16})->Args({16, 4});

// The whole sender path per envelope: staging, packing, FEC, frame MAC (no socket).
void BM_SenderPipeline(benchmark::State& state) {
  const auto key = bench_key();
  FakeClock clock;
  Sender sender(sender_options(10'000'000'000ull), key, clock);
  const std::vector<std::uint8_t> envelope(static_cast<std::size_t>(state.range(0)), 9);
  std::vector<std::span<const std::uint8_t>> out(256);
  std::uint64_t seq = 1, datagrams = 0;
  for (auto _ : state) {
    while (!sender.submit(seq, envelope).ok()) {
      clock.advance_ns(ns_per_ms);
      datagrams += sender.produce(out);
    }
    ++seq;
  }
  while (!sender.idle()) {
    clock.advance_ns(ns_per_ms);
    datagrams += sender.produce(out);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * envelope.size()));
  state.counters["datagrams_per_envelope"] =
      static_cast<double>(datagrams) / static_cast<double>(state.iterations());
  state.counters["ns_per_datagram"] = benchmark::Counter(
      static_cast<double>(datagrams), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_SenderPipeline)->Arg(1024)->Arg(64 << 10);

struct CountingHandler final : Handler {
  void on_envelope(const Delivered& d) override {
    bytes.fetch_add(d.bytes.size(), std::memory_order_relaxed);
    envelopes.fetch_add(1, std::memory_order_relaxed);
  }
  void on_loss(const Loss& l) override { lost.fetch_add(l.count, std::memory_order_relaxed); }
  void on_control(std::uint64_t, std::span<const std::uint8_t>) override {}
  void on_alert(const Alert&) override {}
  std::atomic<std::uint64_t> bytes{0}, envelopes{0}, lost{0};
};

// The whole receiver path per datagram: MAC, reassembly, FEC decode when fragments are
// missing, entry parsing, delivery. Arg 1 = parity fragments dropped per block (0 or m).
void BM_ReceiverPipeline(benchmark::State& state) {
  const auto key = bench_key();
  FakeClock clock;
  Sender sender(sender_options(10'000'000'000ull), key, clock);
  const std::vector<std::uint8_t> envelope(static_cast<std::size_t>(state.range(0)), 9);
  const auto drop = static_cast<std::uint8_t>(state.range(1));
  std::vector<std::vector<std::uint8_t>> datagrams;
  std::vector<std::span<const std::uint8_t>> out(256);
  for (std::uint64_t seq = 1; datagrams.size() < 20'000; ++seq) {
    while (!sender.submit(seq, envelope).ok()) {
      clock.advance_ns(ns_per_ms);
      for (std::size_t i = 0, n = sender.produce(out); i < n; ++i) {
        auto f = parse_frame(out[i], key, 1472);
        // Drop the first `drop` data fragments of every block: decoding must rebuild them.
        if (f.ok() && f->header.kind == FrameKind::data && f->header.index < drop) continue;
        datagrams.emplace_back(out[i].begin(), out[i].end());
      }
    }
  }
  std::uint64_t sessions = 0, fed = 0, bytes = 0;
  CountingHandler handler;
  while (state.KeepRunningBatch(static_cast<std::int64_t>(datagrams.size()))) {
    Receiver receiver(receiver_options(), key, clock, handler);
    for (const auto& d : datagrams) {
      receiver.on_datagram(d);
      bytes += d.size();
    }
    fed += datagrams.size();
    ++sessions;
    if (receiver.counters().envelopes_lost.load() != 0) state.SkipWithError("lost envelopes");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
  state.counters["envelopes_per_datagram"] =
      static_cast<double>(handler.envelopes.load()) / static_cast<double>(fed);
}
BENCHMARK(BM_ReceiverPipeline)
    ->Args({1024, 0})
    ->Args({1024, 16})
    ->Args({64 << 10, 0})
    ->Args({64 << 10, 16});

// --- Two endpoints over loopback ---------------------------------------------------------

// Args: envelope bytes, pacing rate in MB/s. Runs 4 s; rates are measured from 1 s to 4 s.
void BM_LoopbackGoodput(benchmark::State& state) {
  const auto key = bench_key();
  SystemClock clock;
  const auto envelope_bytes = static_cast<std::size_t>(state.range(0));
  const std::uint64_t pace = static_cast<std::uint64_t>(state.range(1)) * 1'000'000;
  for (auto _ : state) {
    CountingHandler handler;
    auto receiver =
        UdpReceiver::open(receiver_options(), "127.0.0.1:0", 32u << 20, key, clock, handler);
    if (!receiver.ok()) return state.SkipWithError(receiver.status().to_string().c_str());
    auto sender = UdpSender::open(sender_options(pace),
                                  "127.0.0.1:" + std::to_string((*receiver)->port()), key, clock);
    if (!sender.ok()) return state.SkipWithError(sender.status().to_string().c_str());
    std::atomic<bool> stop{false}, stop_tx{false};
    std::atomic<std::uint64_t> submitted{0};
    std::thread rx([&] {
      while (!stop.load()) (void)(*receiver)->poll_once(5);
    });
    std::thread tx([&] {
      const std::vector<std::uint8_t> envelope(envelope_bytes, 9);
      for (std::uint64_t seq = 1; !stop_tx.load();) {
        if ((*sender)->submit(seq, envelope).ok()) {
          ++seq;
          submitted.fetch_add(1);
        } else {
          std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
      }
    });
    const auto& sc = (*sender)->counters();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    const auto t0 = std::chrono::steady_clock::now();
    const std::uint64_t good0 = handler.bytes.load(), wire0 = sc.bytes_sent.load();
    std::this_thread::sleep_for(std::chrono::seconds(3));
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::uint64_t good1 = handler.bytes.load(), wire1 = sc.bytes_sent.load();
    // Stop submitting, let everything queued go out and arrive, then stop: losses counted are
    // real, not envelopes cut off by the end of the run.
    stop_tx.store(true);
    tx.join();
    for (int i = 0; i < 1000 && !(*sender)->idle(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop.store(true);
    rx.join();
    (*sender)->stop();
    const auto& rc = (*receiver)->receiver().counters();
    const double goodput = static_cast<double>(good1 - good0) / secs;
    const double wire = static_cast<double>(wire1 - wire0) / secs;
    // Best possible goodput at this pace: full blocks, k/(k+m) data, 68 B frame overhead,
    // 13 B per entry.
    const double frag = 1404, k = 64, m = 16;
    const double ideal = static_cast<double>(pace) * (k / (k + m)) * (frag / 1472.0) *
                         (static_cast<double>(envelope_bytes) /
                          static_cast<double>(envelope_bytes + entry_header_bytes));
    state.counters["pace_MBps"] = static_cast<double>(pace) / 1e6;
    state.counters["wire_MBps"] = wire / 1e6;
    state.counters["goodput_MBps"] = goodput / 1e6;
    state.counters["wire_over_pace"] = wire / static_cast<double>(pace);
    state.counters["goodput_over_pace"] = goodput / static_cast<double>(pace);
    state.counters["goodput_over_ideal"] = goodput / ideal;
    state.counters["envelopes_sent"] = static_cast<double>(submitted.load());
    state.counters["envelopes_lost"] = static_cast<double>(rc.envelopes_lost.load());
    state.counters["loss_rate"] = static_cast<double>(rc.envelopes_lost.load()) /
                                  static_cast<double>(std::max<std::uint64_t>(1, submitted.load()));
    // Datagrams the path (here: the kernel's socket buffers) dropped, over the whole run.
    state.counters["datagram_loss_rate"] =
        1.0 - static_cast<double>(rc.datagrams_received.load()) /
                  static_cast<double>(std::max<std::uint64_t>(1, sc.frames_sent.load()));
    state.counters["fec_recovered_blocks"] = static_cast<double>(rc.blocks_recovered_fec.load());
    state.counters["rcvbuf_MiB"] =
        static_cast<double>((*receiver)->rcvbuf_granted_bytes()) / (1u << 20);
  }
}
BENCHMARK(BM_LoopbackGoodput)
    ->Args({1024, 50})
    ->Args({1024, 100})
    ->Args({64 << 10, 100})
    ->Args({64 << 10, 150})
    ->Args({64 << 10, 200})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace
}  // namespace cg::link

BENCHMARK_MAIN();
