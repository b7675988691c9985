// bench/lab/traffic: a source and a consumer that drive a running cell and account for every
// item — what `make demo`, the multi-process tests and the end-to-end benchmark share.
//
// The source sends synthetic items (every kind, precedence and label shape; optionally some
// malformed) over CurveZMQ with a bounded window of unacknowledged items, and re-sends what is
// unacknowledged when the gateway goes quiet (a gateway restarted after kill -9 acknowledges a
// stored item again as a retry, so a re-send never makes a second item). For every accepted
// item it records what the approved policy must make of it for the destination, judged here
// with the same policy text: released bytes (redacted or not), blocked or quarantined.
//
// The consumer receives from the receiver's delivery socket, acknowledges, and checks each
// delivery against that record: byte-identical to what the policy releases, never an item the
// policy holds back, and never one item under two sequence numbers. Redelivery of one
// (origin, seq) — at-least-once after a receiver restart — is counted apart.
//
// Thread-safety: Expectations is shared by the two drivers (internally locked); each driver
// runs on its own thread; counters are atomics readable from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "gateway/common/mutex.h"
#include "gateway/common/status.h"
#include "gateway/ingest/ingest.h"
#include "gateway/policy/policy.h"
#include "schemas/item.capnp.h"

namespace cg::traffic {

using SteadyClock = std::chrono::steady_clock;

enum class Fate : std::uint8_t { released, redacted, blocked, quarantined };

// What the policy makes of each item, by item id, and what was delivered.
class Expectations final {
 public:
  // `policy_text` is the approved policy; `destination` the receiving party.
  static Result<std::unique_ptr<Expectations>> create(std::string_view policy_text,
                                                      std::string_view destination);

  // Judges a (valid, canonical) item about to be sent, records its fate and starts its
  // latency clock. Returns the fate.
  Result<Fate> judge(std::span<const std::uint8_t> item_bytes);
  // The source's ack for `id` arrived (accepted).
  void accepted(const std::vector<std::uint8_t>& id);

  struct Delivery {
    bool expected = false;    // an accepted item the policy releases
    bool identical = false;   // byte-identical to the released form
    bool first = false;       // first delivery of this item id
    bool redelivery = false;  // the same (origin, seq) again
    bool second_seq = false;  // the same item under another seq: a real duplicate
    schema::Precedence precedence = schema::Precedence::ROUTINE;
    double latency_ms = 0;
  };
  Delivery delivered(const std::string& origin, std::uint64_t seq,
                     std::span<const std::uint8_t> item_bytes);

  struct Totals {
    std::uint64_t judged = 0, released = 0, redacted = 0, blocked = 0, quarantined = 0;
    std::uint64_t accepted = 0;             // acknowledged by the gateway
    std::uint64_t accepted_releasable = 0;  // acknowledged and released by the policy
    std::uint64_t delivered_distinct = 0;   // accepted releasable items delivered at least once
  };
  Totals totals() const;
  // Latencies (ms) of first deliveries, by precedence.
  std::map<schema::Precedence, std::vector<double>> latencies() const;
  // The (origin, seq) under which each item was first delivered.
  std::set<std::pair<std::string, std::uint64_t>> delivered_keys() const;
  // Accepted releasable items not delivered (at most `max` ids, hex).
  std::vector<std::string> missing(std::size_t max) const;

 private:
  struct Record {
    Fate fate = Fate::blocked;
    schema::Precedence precedence = schema::Precedence::ROUTINE;
    std::vector<std::uint8_t> released;  // canonical bytes when released or redacted
    bool accepted = false;
    SteadyClock::time_point sent{};
    std::optional<std::pair<std::string, std::uint64_t>> delivered_as;
  };
  Expectations() = default;
  std::unique_ptr<const policy::Policy> policy_;
  std::optional<policy::Evaluator> evaluator_;
  std::uint32_t destination_ = 0;
  mutable Mutex mu_;
  std::map<std::vector<std::uint8_t>, Record> records_ CG_GUARDED_BY(mu_);
  std::map<schema::Precedence, std::vector<double>> latency_ms_ CG_GUARDED_BY(mu_);
  Totals totals_ CG_GUARDED_BY(mu_);
};

struct SourceOptions {
  std::string endpoint, server_public_z85;
  ingest::KeyPair keys;
  std::string source_id = "il-src-1";
  std::uint64_t seed = 1;
  std::size_t body_bytes = 1024;
  std::uint64_t items = 1000;
  std::uint64_t malformed_every = 0;  // every n-th input is malformed (0: none)
  std::size_t window = 256;           // unacknowledged items in flight
  int quiet_resend_ms = 2000;         // no ack for this long: re-send what is unacknowledged
  int give_up_ms = 120'000;           // nothing accepted for this long: stop with an error
};

struct SourceCounters {
  std::atomic<std::uint64_t> sent{0}, accepted{0}, resent{0};
  std::atomic<std::uint64_t> rejected_malformed{0}, rejected_other{0};
  std::atomic<std::uint64_t> refused_overloaded{0};  // kept and re-sent: back-pressure, not loss
  std::atomic<std::uint64_t> accepted_bytes{0};      // the accepted items' encoded bytes
};

// Sends `items` items and waits for every ack; records each accepted item in `expect`.
// Errors: io (could not connect, or no ack for give_up_ms), malformed (a generated item did
// not judge: a bug), rejected (the gateway refused a valid item for a reason other than load).
Status run_source(const SourceOptions& options, Expectations& expect, SourceCounters& counters,
                  const std::atomic<bool>& stop);

struct ConsumerOptions {
  std::string endpoint, server_public_z85;
  ingest::KeyPair keys;
  std::uint32_t window = 512;
};

struct ConsumerCounters {
  std::atomic<std::uint64_t> deliveries{0}, verified{0}, unexpected{0}, differing{0};
  std::atomic<std::uint64_t> redeliveries{0}, duplicates{0};
};

// Receives and acknowledges until `stop`; reconnects when the receiver restarts.
Status run_consumer(const ConsumerOptions& options, Expectations& expect,
                    ConsumerCounters& counters, const std::atomic<bool>& stop);

// The q-quantile (0..1) of `v` (sorts a copy); 0 when empty.
double percentile(std::vector<double> v, double q);

}  // namespace cg::traffic
