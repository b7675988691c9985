// gateway/deliver: the receiver's last stage — replay/duplicate rejection by (origin, stream,
// seq) with a durable window, a durable queue of items not yet acknowledged by a consumer, and
// a CurveZMQ ROUTER socket that hands them to consumers (at-least-once).
//
// Consumer protocol (schemas/ingest.capnp): a consumer connects a DEALER with its CURVE key
// and sends ConsumerMessage.ready(window); the receiver pushes up to `window` Delivery
// messages; the consumer answers each with ConsumerMessage.ack. An acknowledged delivery is
// deleted from the durable queue; one not acknowledged within `redeliver_after_ms` (consumer
// slow, crashed or restarted) is delivered again, to whichever consumer has room. Items are
// therefore delivered at least once; a consumer deduplicates by (origin, stream, seq).
// Each item goes to one consumer (work-queue semantics).
//
// Threads: DeliveryServer runs two threads (ZAP authenticator and the delivery loop). The
// DedupeWindow and Outbox are used inside the caller's write transactions; they keep no state
// outside the store and are safe to share.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/common/clock.h"
#include "gateway/common/seq_range.h"
#include "gateway/common/status.h"
#include "gateway/edge/edge.h"
#include "gateway/store/store.h"

namespace cg::deliver {

// --- Replay and duplicate window -------------------------------------------------------------

using cg::SeqRange;

class DedupeWindow final {
 public:
  // `window_seqs`: how far above the lowest missing seq a stream may run before the missing
  // ones are written off as lost (bounds the stored state per stream).
  static Result<DedupeWindow> open(store::Env& env, std::uint64_t window_seqs = 1u << 16);

  enum class Verdict {
    fresh,      // first time seen: store and deliver it
    duplicate,  // seen before (or written off as lost and arriving too late): drop it
  };
  struct Outcome {
    Verdict verdict = Verdict::duplicate;
    // Seqs written off as lost because `seq` ran more than the window ahead of them.
    std::optional<SeqRange> written_off;
  };
  // Records `seq` of (origin, stream) inside `txn` and says whether it is fresh. seq 0 is
  // never valid (sequences start at 1) and is a duplicate.
  Result<Outcome> check_and_mark(store::WriteTxn& txn, std::string_view origin,
                                 std::uint32_t stream, std::uint64_t seq);

  // Every seq of (origin, stream) below the highest seen that has not been seen (and is not
  // written off), as ranges. At most `max_ranges`. With `highest`: the highest seq seen (or
  // written off; 0 for none) when every range was listed, else 0.
  Result<std::vector<SeqRange>> missing(std::string_view origin, std::uint32_t stream,
                                        std::size_t max_ranges = 1024,
                                        std::uint64_t* highest = nullptr) const;
  // Highest seq such that it and all below it are seen or written off.
  Result<std::uint64_t> floor(std::string_view origin, std::uint32_t stream) const;

 private:
  DedupeWindow(store::Env* env, store::Table floors, store::Table seen, std::uint64_t window)
      : env_(env), floors_(floors), seen_(seen), window_(window) {}
  store::Env* env_;
  store::Table floors_, seen_;
  std::uint64_t window_;
};

// --- Durable queue of deliveries -------------------------------------------------------------

struct Pending {
  std::uint64_t delivery_id = 0;
  std::string origin;
  std::uint32_t stream = 0;
  std::uint64_t seq = 0;
  std::uint64_t log_index = 0;
  std::vector<std::uint8_t> item;  // canonical Item bytes
};

class Outbox final {
 public:
  static Result<Outbox> open(store::Env& env);
  // Enqueues inside `txn`; returns the delivery id.
  Result<std::uint64_t> enqueue(store::WriteTxn& txn, std::string_view origin, std::uint32_t stream,
                                std::uint64_t seq, std::uint64_t log_index,
                                std::span<const std::uint8_t> item);
  // Removes acknowledged deliveries in one transaction; returns how many were there (a second
  // ack of the same delivery removes nothing).
  Result<std::size_t> acknowledge(std::span<const std::uint64_t> delivery_ids);
  Result<std::optional<Pending>> get(std::uint64_t delivery_id) const;
  // Up to `max` queued deliveries with id > `after`, in order.
  Result<std::vector<Pending>> read(std::uint64_t after, std::size_t max) const;
  Result<std::uint64_t> size() const;

 private:
  Outbox(store::Env* env, store::Table queue, store::Table meta)
      : env_(env), queue_(queue), meta_(meta) {}
  store::Env* env_;
  store::Table queue_, meta_;
};

// --- Delivery over ZeroMQ --------------------------------------------------------------------

struct ConsumerKey {
  std::string consumer;    // a name for logs and metrics
  std::string public_z85;  // CURVE public key
};

struct ServerOptions {
  std::string endpoint = "tcp://127.0.0.1:0";
  std::string secret_z85;  // the receiver's CURVE secret key
  std::vector<ConsumerKey> consumers;
  std::uint32_t window_max = 1024;  // the most a consumer may ask to hold
  std::int64_t redeliver_after_ms = 10'000;
  int socket_hwm = 2048;
  RateLimitedLog* log = nullptr;  // refused consumer keys are logged here (may be null); outlives
};

struct Counters {
  std::atomic<std::uint64_t> delivered{0};  // Delivery messages sent (incl. redeliveries)
  std::atomic<std::uint64_t> redelivered{0};
  std::atomic<std::uint64_t> acknowledged{0};
  std::atomic<std::uint64_t> duplicate_acks{0};
  std::atomic<std::uint64_t> bad_messages{0};  // undecodable consumer messages
  std::atomic<std::uint64_t> auth_failures{0};
  std::atomic<std::uint64_t> consumers_ready{0};
};

class DeliveryServer final {
 public:
  // Keeps references to `outbox` and `clock`, which must outlive the server.
  DeliveryServer(ServerOptions options, Outbox& outbox, const Clock& clock);
  ~DeliveryServer();
  DeliveryServer(const DeliveryServer&) = delete;
  DeliveryServer& operator=(const DeliveryServer&) = delete;

  // Binds and starts; the loop picks up newly enqueued items within 10 ms. Errors: malformed
  // (bad keys/options), io (bind).
  Status start();
  void stop();
  const std::string& endpoint() const { return bound_endpoint_; }
  const Counters& counters() const { return counters_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string bound_endpoint_;
  Counters counters_;
};

// --- Consumer client (cellgate tail, tests) --------------------------------------------------

struct Delivered {
  std::uint64_t delivery_id = 0;
  std::string origin;
  std::uint32_t stream = 0;
  std::uint64_t seq = 0;
  std::uint64_t log_index = 0;
  std::vector<std::uint8_t> item;
};

// Decodes a Delivery message (what ConsumerClient::receive does). Errors: malformed.
Result<Delivered> parse_delivery(std::span<const std::uint8_t> bytes);
// Decodes a ConsumerMessage (what the server does with each consumer message).
struct ConsumerRequest {
  bool ready = false;
  std::uint32_t window = 0;
  std::uint64_t ack_delivery_id = 0;
};
Result<ConsumerRequest> parse_consumer_message(std::span<const std::uint8_t> bytes);

class ConsumerClient final {
 public:
  // Connects, completes the CURVE handshake and sends ready(window).
  static Result<std::unique_ptr<ConsumerClient>> connect(const std::string& endpoint,
                                                         const std::string& server_public_z85,
                                                         const edge::KeyPair& keys,
                                                         std::uint32_t window, int timeout_ms);
  ~ConsumerClient();
  // The next delivery; Code::io on timeout.
  Result<Delivered> receive(int timeout_ms);
  Status acknowledge(const Delivered& delivered);

 private:
  struct Impl;
  explicit ConsumerClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cg::deliver
